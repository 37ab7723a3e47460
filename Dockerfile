# One image, two processes: run it as the gRPC server (default) or as the gateway
# (`command: ["python", "-m", "gateway"]`). Each container runs one process.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONPATH=/app/generated:/app PYTHONUNBUFFERED=1 \
    PERF_GRPC_HOST=0.0.0.0 PERF_HTTP_HOST=0.0.0.0 PERF_DATA_DIR=/data
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY contract contract
COPY generated generated
COPY gateway gateway
COPY server server
RUN useradd --uid 10001 perf && mkdir -p /data/images && chown -R perf /data
USER perf
EXPOSE 50051 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["python", "-m", "server.runtime.probe"]
CMD ["python", "-m", "server"]
