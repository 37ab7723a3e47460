# One image, two processes: the gRPC server (default) or the gateway (`python -m gateway`); each
# container runs one. The probe checks whichever the container runs (server/runtime/probe.py).
# Runs as a numeric non-root user (so Kubernetes' runAsNonRoot can verify it) and with a read-only
# root filesystem: it writes only to $PERF_DATA_DIR (a volume) and /tmp (a tmpfs).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
WORKDIR /app
# No .pyc writes at run time (the root filesystem is read-only); the code is compiled below instead.
ENV PYTHONPATH=/app/generated:/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PERF_GRPC_HOST=0.0.0.0 PERF_HTTP_HOST=0.0.0.0 PERF_DATA_DIR=/data
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY contract contract
COPY generated generated
COPY gateway gateway
COPY server server
# Bytecode compiled at build time keeps start-up fast although nothing may be written at run time.
RUN python -m compileall -q contract generated gateway server \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin perf \
    && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
# Each container gets its own data directory (SQLite, ledger spool, generated secret) unless one is mounted.
VOLUME ["/data"]
EXPOSE 50051 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["python", "-m", "server.runtime.probe"]
CMD ["python", "-m", "server"]
