"""`make run`: start the gRPC server, wait until it is SERVING, then the gateway; stop them together.

`python -m scripts.run_local --servers N --gateways M` runs N server processes and M gateways on this
host, for machines with more cores than one Python process can use (each process uses one):

- server i listens on PERF_GRPC_PORT + i (and PERF_METRICS_PORT + i when metrics are on);
- server i also listens on a Unix-domain socket, `server-<i>.sock` in a private folder made for this run
  (mode 0700, removed at stop), and every gateway reaches all of them through one channel,
  `unix:<folder>/server-0.sock,<folder>/server-1.sock,…`, balanced round robin per call (the gateway's
  channel already asks for round_robin): on one host the socket skips the TCP stack, about 7 % more
  small requests a second (README: Scaling on one host). `--tcp` keeps the hop on loopback ports
  (`ipv4:127.0.0.1:<p0>,127.0.0.1:<p1>,…`); a PERF_GRPC_TARGET in the environment is used as given;
- the gateways share PERF_HTTP_PORT with SO_REUSEPORT (PERF_HTTP_REUSE_PORT=1): the kernel spreads
  new connections over them; gateway i serves its own metrics on PERF_GATEWAY_METRICS_PORT + i when
  that is set (GET /metrics on the shared port reaches whichever process took the connection).

Several servers share limits, spend and the ledger only through PostgreSQL and Redis, so N > 1 needs
PERF_DATABASE_URL and PERF_REDIS_URL (the embedded SQLite store and in-process limiter are one
process's). One gateway per two servers is about right: a request costs the gateway about a third of
what it costs the server (README: Scaling on one host). In containers each process runs on its own
(`python -m server`, `python -m gateway`).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_until_serving(target: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with grpc.insecure_channel(target) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
        except grpc.RpcError:
            time.sleep(0.2)
    return False


def server_envs(env: dict[str, str], count: int, socket_dir: str | None = None) -> list[dict[str, str]]:
    """Each server's environment: its own port (and metrics port), and its own socket when socket_dir is given."""
    base = int(env.get("PERF_GRPC_PORT", "50051"))
    envs = []
    for index in range(count):
        one = {**env, "PERF_GRPC_PORT": str(base + index)}
        if env.get("PERF_METRICS_PORT"):
            one["PERF_METRICS_PORT"] = str(int(env["PERF_METRICS_PORT"]) + index)
        if socket_dir is not None:
            one["PERF_GRPC_UNIX_SOCKET"] = os.path.join(socket_dir, f"server-{index}.sock")
        envs.append(one)
    return envs


def server_target(servers: list[dict[str, str]], sockets: bool = True) -> str:
    """One gRPC target naming every server: their sockets when they have them, else their loopback ports."""
    paths = [s["PERF_GRPC_UNIX_SOCKET"] for s in servers if sockets and s.get("PERF_GRPC_UNIX_SOCKET")]
    if paths and len(paths) == len(servers):
        return "unix:" + ",".join(paths)
    ports = [s["PERF_GRPC_PORT"] for s in servers]
    return f"127.0.0.1:{ports[0]}" if len(ports) == 1 else "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)


def gateway_env(env: dict[str, str], servers: list[dict[str, str]], gateways: int) -> dict[str, str]:
    out = {**env, "PERF_GRPC_TARGET": env.get("PERF_GRPC_TARGET", server_target(servers))}
    if gateways > 1:
        out["PERF_HTTP_REUSE_PORT"] = "1"
    return out


def gateway_envs(shared: dict[str, str], count: int) -> list[dict[str, str]]:
    """Each gateway's environment: the shared one, with a metrics port of its own when metrics ports are set."""
    if not shared.get("PERF_GATEWAY_METRICS_PORT"):
        return [shared] * count
    base = int(shared["PERF_GATEWAY_METRICS_PORT"])
    return [{**shared, "PERF_GATEWAY_METRICS_PORT": str(base + index)} for index in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.run_local")
    parser.add_argument("--servers", type=int, default=1, help="gRPC server processes (default 1)")
    parser.add_argument("--gateways", type=int, default=1, help="HTTP gateway processes (default 1)")
    parser.add_argument("--tcp", action="store_true",
                        help="gateways reach the servers on their loopback ports, not on Unix sockets")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.servers > 1 and not (env.get("PERF_DATABASE_URL") and env.get("PERF_REDIS_URL")):
        print("several servers share limits, spend and the ledger only through PostgreSQL and Redis: "
              "set PERF_DATABASE_URL and PERF_REDIS_URL", file=sys.stderr)
        return 2
    if args.servers > 1 and env.get("PERF_GRPC_UNIX_SOCKET"):
        print("PERF_GRPC_UNIX_SOCKET names one socket and several servers cannot share it: leave it unset "
              "(each server then gets its own)", file=sys.stderr)
        return 2
    if args.tcp:
        env.setdefault("PERF_GRPC_TARGET", server_target(server_envs(env, args.servers), sockets=False))
    # An operator's own target or socket wins; otherwise the sockets go in a folder only this user may enter.
    own_hop = "PERF_GRPC_TARGET" in env or "PERF_GRPC_UNIX_SOCKET" in env
    socket_dir = None if own_hop else tempfile.mkdtemp(prefix="perf-run-")
    try:
        return run(env, args.servers, args.gateways, socket_dir)
    finally:
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)


def run(env: dict[str, str], server_count: int, gateway_count: int, socket_dir: str | None) -> int:
    servers: list[subprocess.Popen[bytes]] = []
    gateways: list[subprocess.Popen[bytes]] = []

    def stop(signum: int = signal.SIGTERM, _frame: object = None) -> None:
        for process in (*gateways, *servers):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    envs = server_envs(env, server_count, socket_dir)
    for index, one in enumerate(envs):
        servers.append(subprocess.Popen([sys.executable, "-m", "server"], env=one))
        # The first alone, so that only it creates the first key and runs the migrations.
        if index == 0 and not wait_until_serving(f"127.0.0.1:{one['PERF_GRPC_PORT']}", servers[0]):
            stop()
            print("the gRPC server did not become ready", file=sys.stderr)
            return 1
    for one, process in zip(envs[1:], servers[1:]):
        if not wait_until_serving(f"127.0.0.1:{one['PERF_GRPC_PORT']}", process):
            stop()
            print("a gRPC server did not become ready", file=sys.stderr)
            return 1
    shared = gateway_env(env, envs, gateway_count)
    gateways.extend(subprocess.Popen([sys.executable, "-m", "gateway"], env=one)
                    for one in gateway_envs(shared, gateway_count))
    port = env.get("PERF_HTTP_PORT", "8080")
    print(f"Gateway{'s' if gateway_count > 1 else ''} on http://127.0.0.1:{port}  (gRPC: {shared['PERF_GRPC_TARGET']}); "
          "Ctrl-C stops all.", flush=True)
    # Any process ending ends them all: part of a service is worse than none.
    while all(p.poll() is None for p in (*gateways, *servers)):
        time.sleep(0.5)
    stop()
    return max(p.wait() for p in (*gateways, *servers))


if __name__ == "__main__":
    sys.exit(main())
