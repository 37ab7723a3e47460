"""Builds and runs the gRPC server: service, health, reflection, sweeper, and a graceful SIGTERM."""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

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
from server.keys.authenticator import Authenticator
from server.keys.bootstrap import ensure_first_test_key
from server.limits import ImageLimiter, InProcessLimiter, make_limiter
from server.pipeline.budget import ImageByteBudget
from server.pipeline.delivery import Delivery
from server.pipeline.idempotency import Idempotency
from server.pipeline.pipeline import Pipeline
from server.pipeline.routing import Router
from server.pipeline.service import ImageService
from server.providers.registry import LiveProviders, plugins_from_env, start_live_providers
from server.providers.sandbox import SandboxProvider
from server.runtime.config import ServerSettings
from server.runtime.housekeeping import replay_spool_forever, sweep_forever, watch_backends
from server.runtime.instance_secret import derive_keys, load_secret
from server.runtime.interceptors import AdminAuthInterceptor, AuthInterceptor, RequestContextInterceptor
from server.storage.local import LocalImageStore
from server.storage.signing import UrlSigner

log = logging.getLogger("perf.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ImageService"].full_name


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

    async def stop(self, grace: float | None) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.server.stop(grace)
        # Handlers cut off by the grace still release reservations and write ledger rows: let them.
        await self.accountant.tasks.drain(timeout_s=10)
        await self.live.close()  # after the grace: in-flight generations still use the sessions
        await self.limiter.close()
        await self.store.close()


async def start_server(settings: ServerSettings) -> RunningServer:
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
    created = await ensure_first_test_key(store, keys.key_pepper)
    if created:
        print(f"No API keys existed, so a test key was created (shown only now):\n{created}", flush=True)
    images = LocalImageStore(settings.data_dir / "images")
    signer = UrlSigner(keys.url_signing, settings.image_ttl_s, settings.public_url)
    # One aiohttp session per configured upstream, created here inside the running loop.
    plugins = plugins_from_env(settings.providers.env)
    catalog = load_catalog(settings.catalog_path, providers=tuple(plugins))
    check_lifecycle(catalog, settings.today())  # a model left with no live deployment refuses to start
    live = await start_live_providers(settings.providers, plugins)
    lifecycles = Lifecycles(catalog, settings.today)
    router = Router(catalog, lifecycles, SandboxProvider(latency_s=settings.sandbox_latency_s), live.providers, plugins)

    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # A port already in use must fail loudly, not be shared with another server.
        ("grpc.so_reuseport", 0),
        # Accept the gateway's keepalive pings during long generations.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]
    # Without a token the admin API still exists, to answer NOT_FOUND (not UNIMPLEMENTED) for every method.
    admin_gate = AdminGate(AdminToken(settings.admin_token, keys.key_pepper) if settings.admin_token else None,
                           FailureLimiter(limit=settings.admin_failures_per_minute))
    server = grpc.aio.server(
        interceptors=[RequestContextInterceptor(), AuthInterceptor(Authenticator(store, keys.key_pepper)),
                      AdminAuthInterceptor(admin_gate)],
        options=options)
    pipeline = Pipeline(catalog, router, Delivery(images, signer), accountant, store,
                        Idempotency(store, settings.reservation_lease_s), spool,
                        ImageByteBudget(settings.max_inflight_image_bytes, settings.inflight_wait_s))
    pb_grpc.add_ImageServiceServicer_to_server(ImageService(catalog, lifecycles, pipeline, images, signer, store),
                                               server)
    add_admin_service(server, AdminDeps(store, keys.key_pepper, catalog, lifecycles, signer, plugins,
                                        frozenset(live.providers)))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        admin = (ADMIN_SERVICE_NAME,) if admin_gate.enabled else ()  # not advertised while it answers 404
        reflection.enable_server_reflection((SERVICE_NAME, *admin, health.SERVICE_NAME, reflection.SERVICE_NAME),
                                            server)
    port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    sweeper = asyncio.create_task(sweep_forever(images, Idempotency(store, settings.reservation_lease_s), settings))
    monitor = asyncio.create_task(watch_backends(health_servicer, store, limiter, settings.health_interval_s))
    replayer = asyncio.create_task(replay_spool_forever(spool, store, settings.health_interval_s))
    return RunningServer(server=server, health=health_servicer, port=port, store=store, limiter=limiter,
                         accountant=accountant, background=[sweeper, monitor, replayer], live=live)


async def serve(settings: ServerSettings) -> None:
    running = await start_server(settings)
    log.info("gRPC server listening on %s:%d", settings.grpc_host, running.port)
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
