"""Builds and runs the gRPC server: service, health, reflection, sweeper, and a graceful SIGTERM."""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contract import allocator
from contract.tracing import Tracing, start_tracing
from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.accounting.holds import Accountant
from server.accounting.restore import restore_limiter
from server.accounting.spool import LedgerSpool
from server.accounting.tiers import load_tiers
from server.admin.auth import AdminGate, AdminToken, FailureLimiter
from server.admin.service import ADMIN_SERVICE_NAME, AdminDeps, add_admin_service
from server.catalog import load_catalog
from server.catalog.lifecycle import Lifecycles, check_lifecycle
from server.database import Store, open_store
from server.jobs.service import JobService
from server.jobs.webhooks import WebhookSender
from server.jobs.workers import JobWorkers
from server.keys.authenticator import Authenticator
from server.keys.bootstrap import ensure_bootstrap_keys, ensure_first_test_key
from server.limits import ImageLimiter, InProcessLimiter, make_limiter
from server.pipeline.breakers import Breakers
from server.pipeline.budget import ImageByteBudget
from server.pipeline.delivery import Delivery
from server.pipeline.idempotency import Idempotency
from server.pipeline.inputs import InputLimits
from server.pipeline.kinds import Rules
from server.pipeline.pipeline import Pipeline
from server.pipeline.routing import Router
from server.pipeline.service import ImageService
from server.providers.registry import LiveProviders, plugins_from_env, start_live_providers
from server.providers.sandbox import SandboxProvider
from server.providers.upstream_spans import upstream_trace_configs
from server.runtime.call_wrappers import CallWrappers
from server.runtime.config import ServerSettings
from server.runtime.grpc_services import GenericHandlersOnly, add_reflection
from server.runtime.housekeeping import replay_spool_forever, sweep_forever, warn_of_shutdowns_forever, watch_backends
from server.runtime.instance_secret import derive_keys, load_secret
from server.runtime.metrics import ServerMetrics, start_exporter
from server.storage.base import ImageStore
from server.storage.factory import open_storage
from server.storage.signing import UrlSigner

log = logging.getLogger("perf.server")
# How long before a serving deployment shuts down the server starts logging a daily WARNING.
SHUTDOWN_WARNING_DAYS = 30
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ImageService"].full_name
# After the grace, how long handlers that were cut off may still take to release reservations and
# write ledger rows. Orchestrator stop timeouts must cover drain + grace + this (deploy/, compose.yaml).
ACCOUNTING_DRAIN_S = 10.0


@dataclass
class RunningServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    store: Store
    limiter: ImageLimiter
    accountant: Accountant
    background: list[asyncio.Task[None]]
    live: LiveProviders
    images: ImageStore
    # The plaintext health-only server (PERF_GRPC_HEALTH_PORT), stopped last so probes see the drain.
    health_server: grpc.aio.Server | None = None
    health_port: int | None = None
    metrics: ServerMetrics | None = None
    # The Prometheus exporter (PERF_METRICS_PORT) and its bound port; None when off.
    metrics_runner: web.AppRunner | None = None
    metrics_port: int | None = None
    tracing: Tracing | None = None
    jobs: JobWorkers | None = None

    async def stop(self, grace: float | None) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        # Running jobs get the same grace as calls in flight; those still running are handed over.
        await asyncio.gather(self.server.stop(grace), *([self.jobs.stop(grace or 0.0)] if self.jobs else []))
        # Handlers cut off by the grace still release reservations and write ledger rows: let them.
        await self.accountant.tasks.drain(timeout_s=ACCOUNTING_DRAIN_S)
        await self.live.close()  # after the grace: in-flight generations still use the sessions
        await self.images.close()
        await self.limiter.close()
        await self.store.close()
        if self.health_server is not None:
            await self.health_server.stop(None)
        if self.metrics_runner is not None:
            await self.metrics_runner.cleanup()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)  # exports the spans still queued


async def start_server(settings: ServerSettings) -> RunningServer:
    plugins = plugins_from_env(settings.providers.env)
    catalog = load_catalog(settings.catalog_path, providers=plugins)
    check_lifecycle(catalog, settings.today())  # a model left with no live deployment refuses to start
    keys = derive_keys(load_secret(settings.secret, settings.data_dir))
    store = await open_store(settings.database_url, settings.data_dir)
    limiter = make_limiter(settings.redis_url, settings.redis_prefix, lease_s=settings.reservation_lease_s)
    spool = LedgerSpool(settings.data_dir / "ledger-spool")
    if spool.pending():
        # Rows spooled during an outage before a restart belong in the ledger before it is read below.
        try:
            await spool.replay(store)
        except Exception as error:  # the store may still be down: the background replayer keeps trying
            log.warning("could not replay the ledger spool at start: %r", error)
    if isinstance(limiter, InProcessLimiter):
        # It starts empty; what it admitted before a restart is in the ledger (Redis keeps its own).
        await restore_limiter(store, limiter)
    accountant = Accountant(limiter, store, load_tiers(), settings.reservation_lease_s)
    if settings.bootstrap_keys_file is not None:
        # Before the first-key check: a store that gets the operator's keys needs no generated one.
        added = await ensure_bootstrap_keys(store, keys.key_pepper, settings.bootstrap_keys_file)
        log.info("bootstrap keys from %s: %d added%s", settings.bootstrap_keys_file, len(added),
                 f" ({', '.join(added)})" if added else ", all present already")
    created = await ensure_first_test_key(store, keys.key_pepper)
    if created:
        print(f"No API keys existed, so a test key was created (shown only now):\n{created}", flush=True)
    signer = UrlSigner(keys.url_signing, settings.image_ttl_s, settings.public_url)
    storage = await open_storage(settings.storage, settings.data_dir, signer)
    images = storage.images
    tracing = start_tracing(settings.tracing, "perf-server")
    # One aiohttp session per configured upstream, created here inside the running loop.
    live = await start_live_providers(settings.providers, plugins, upstream_trace_configs(tracing))
    lifecycles = Lifecycles(catalog, settings.today)
    metrics = ServerMetrics(catalog, lifecycles)
    router = Router(catalog, lifecycles, SandboxProvider(latency_s=settings.sandbox_latency_s), live.providers, plugins,
                    Breakers(settings.breakers))

    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # A port already in use must fail loudly, not be shared with another server.
        ("grpc.so_reuseport", 0),
        # Accept the gateway's keepalive pings during long generations.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]
    if settings.max_connection_age_s is not None:
        # GOAWAY after the age; calls in flight then have the longest deadline a generation may get.
        options += [("grpc.max_connection_age_ms", int(settings.max_connection_age_s * 1000)),
                    ("grpc.max_connection_age_grace_ms", int(settings.providers.default_deadline_s * 1000))]
    # Without a token the admin API still exists, to answer NOT_FOUND (not UNIMPLEMENTED) for every method.
    admin_gate = AdminGate(AdminToken(settings.admin_token, keys.key_pepper) if settings.admin_token else None,
                           FailureLimiter(limit=settings.admin_failures_per_minute))
    server = grpc.aio.server(options=options)
    rules = Rules(catalog, InputLimits(settings.max_upload_file_bytes, settings.max_upload_bytes,
                                       settings.providers.max_image_pixels))
    budget = ImageByteBudget(settings.max_inflight_image_bytes, settings.inflight_wait_s)
    metrics.watch_circuits(catalog, router.breakers.view)
    metrics.watch_budget(lambda: budget.used, settings.max_inflight_image_bytes)
    pipeline = Pipeline(rules, router, Delivery(images, storage.urls), accountant, store,
                        Idempotency(store, settings.reservation_lease_s), spool, budget, metrics)
    # One bounded worker pool per configured provider, and the sandbox's for test keys.
    workers = JobWorkers(store, pipeline, settings.jobs, ["sandbox", *live.providers])
    insecure = settings.providers.insecure_http_hosts  # the test setting: plain-http webhook hosts too
    jobs = JobService(store, pipeline, accountant, workers, insecure)
    services = GenericHandlersOnly(server, CallWrappers(metrics, tracing, Authenticator(store, keys.key_pepper),
                                                        admin_gate).wrap)
    pb_grpc.add_ImageServiceServicer_to_server(ImageService(catalog, lifecycles, pipeline, images, signer, store,
                                                            router=router, jobs=jobs), services)
    add_admin_service(services, AdminDeps(store, keys.key_pepper, catalog, lifecycles, signer, plugins,
                                          frozenset(live.providers), router=router))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    if settings.reflection:
        admin = (ADMIN_SERVICE_NAME,) if admin_gate.enabled else ()  # not advertised while it answers 404
        add_reflection((SERVICE_NAME, *admin, health.SERVICE_NAME, reflection.SERVICE_NAME), services)
    address = f"{settings.grpc_host}:{settings.grpc_port}"
    port = _listen(server, address, settings)
    if settings.grpc_unix_socket is not None:
        # grpc replaces a stale socket file (a killed server's) and removes its own at stop; the file
        # gets this process's umask, so by default only its user may connect.
        _listen(server, f"unix:{settings.grpc_unix_socket}", settings)
    health_server, health_port = None, None
    if settings.health_port is not None:
        # Health only (no ImageService, no reflection), so plaintext here exposes no data and no way
        # around mTLS; it shares the servicer, so it reports the same states, the drain included.
        health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, GenericHandlersOnly(health_server))
        health_port = health_server.add_insecure_port(f"{settings.grpc_host}:{settings.health_port}")
        await health_server.start()
    metrics_runner, metrics_port = None, None
    if settings.metrics_port is not None:
        metrics_runner, metrics_port = await start_exporter(metrics, settings.grpc_host, settings.metrics_port)
    await server.start()
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    sweeper = asyncio.create_task(sweep_forever(images, Idempotency(store, settings.reservation_lease_s), store,
                                                settings))
    monitor = asyncio.create_task(watch_backends(health_servicer, store, limiter, images, settings.health_interval_s))
    replayer = asyncio.create_task(replay_spool_forever(spool, store, settings.health_interval_s))
    warner = asyncio.create_task(warn_of_shutdowns_forever(lifecycles, SHUTDOWN_WARNING_DAYS, 3600))
    trimmer = asyncio.create_task(allocator.trim_forever())
    webhooks = asyncio.create_task(WebhookSender(store, settings.jobs, insecure, workers.webhooks_due).run_forever())
    workers.start()
    return RunningServer(server=server, health=health_servicer, port=port, store=store, limiter=limiter,
                         accountant=accountant, background=[sweeper, monitor, replayer, warner, trimmer, webhooks],
                         live=live, images=images, health_server=health_server, health_port=health_port,
                         metrics=metrics, metrics_runner=metrics_runner, metrics_port=metrics_port, tracing=tracing,
                         jobs=workers)


def _listen(server: grpc.aio.Server, address: str, settings: ServerSettings) -> int:
    if settings.tls.enabled:
        return server.add_secure_port(address, settings.tls.credentials())
    return server.add_insecure_port(address)


async def serve(settings: ServerSettings) -> None:
    running = await start_server(settings)
    log.info("gRPC server listening on %s:%d%s", settings.grpc_host, running.port,
             (" (TLS, client certificates required)" if settings.tls.requires_client_cert else " (TLS)")
             if settings.tls.enabled else "")
    if settings.grpc_unix_socket is not None:
        log.info("gRPC server also listening on unix:%s", settings.grpc_unix_socket)
    if running.health_port is not None:
        log.info("gRPC health (plaintext, health only) on %s:%d", settings.grpc_host, running.health_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("draining: health NOT_SERVING, in-flight calls get %.0fs", settings.shutdown_grace_s)
    await running.health.enter_graceful_shutdown()
    await asyncio.sleep(settings.drain_s)  # let probes and load balancers notice before we stop accepting
    await running.stop(settings.shutdown_grace_s)
    log.info("stopped")
