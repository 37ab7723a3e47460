"""Background work of a running server: readiness from its backends, and deleting what expired."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from grpc_health.v1 import health, health_pb2

from perf.images.v1 import image_service_pb2 as pb
from server.accounting.spool import LedgerSpool
from server.catalog.lifecycle import Lifecycles
from server.database import Store
from server.limits import ImageLimiter, WindowLimit
from server.pipeline.idempotency import Idempotency
from server.runtime.config import ServerSettings
from server.storage.base import ImageStore

log = logging.getLogger("perf.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ImageService"].full_name


async def watch_backends(health_servicer: health.aio.HealthServicer, store: Store, limiter: ImageLimiter,
                         images: ImageStore, interval_s: float) -> None:
    """ImageService is NOT_SERVING while the store, the limiter or the image store does not answer (design.md 3).

    The first check runs at once, so a backend already down at start is reported within one probe."""
    probe_window = (WindowLimit("minute", 1, 60),)
    serving = True
    while True:
        try:
            await asyncio.wait_for(store.count_keys(), interval_s)
            await asyncio.wait_for(limiter.peek("perf:health-probe", probe_window), interval_s)
            await asyncio.wait_for(images.check(), interval_s)
            healthy = True
        except Exception as error:  # any failure to answer is "down" for readiness
            healthy = False
            if serving:
                # Type and message: some reprs say neither (redis-py 8: "server:ResponseError").
                log.error("a backend is down, reporting NOT_SERVING: %s: %s", type(error).__name__, error)
        if healthy != serving:
            serving = healthy
            status = health_pb2.HealthCheckResponse.SERVING if healthy else health_pb2.HealthCheckResponse.NOT_SERVING
            await health_servicer.set(SERVICE_NAME, status)
            if healthy:
                log.warning("every backend answers again, reporting SERVING")
        await asyncio.sleep(interval_s)


async def sweep_forever(images: ImageStore, idempotency: Idempotency, store: Store, settings: ServerSettings) -> None:
    """Housekeeping: delete images past their URLs' expiry (plus grace) and idempotency keys past retention,
    and move spend holds whose lease ended (their replica died mid-request) to spent.

    Every replica sweeps the same directory or prefix; deleting what another already deleted is harmless."""
    while True:
        # Apart, so an image store outage does not hold up the database's housekeeping or the reverse.
        try:
            removed = await images.sweep(settings.image_ttl_s + settings.sweep_grace_s, time.time())
            if removed:
                log.info("sweeper removed %d expired images", removed)
        except Exception as error:  # housekeeping must outlive a passing disk or bucket error
            log.warning("image sweep failed; retrying next interval: %r", error)
        try:
            purged = await idempotency.purge(time.time())
            if purged:
                log.info("sweeper removed %d idempotency keys past retention", purged)
        except Exception:  # and a passing database error
            log.exception("idempotency purge failed; retrying next interval")
        try:
            # Counted as spent: the upstream may have charged. Caps are unaffected either way, since
            # a reservation checks spent + reserved, which this move leaves as it was.
            moved = await store.expire_spend_holds(int(time.time()))
            if moved:
                log.warning("sweeper moved expired spend holds of %d key-months to spent", moved)
        except Exception:
            log.exception("spend hold sweep failed; retrying next interval")
        await asyncio.sleep(settings.sweep_interval_s)


async def replay_spool_forever(spool: LedgerSpool, store: Store, interval_s: float) -> None:
    """Move ledger rows spooled during a database outage into the store, once it answers again."""
    while True:
        try:
            if spool.pending():
                replayed = await spool.replay(store)
                if replayed:
                    log.warning("replayed %d spooled ledger rows into the store", replayed)
        except Exception as error:  # the store is still down: keep the rows, try again later
            log.warning("ledger spool replay failed, will retry: %r", error)
        await asyncio.sleep(interval_s)


async def warn_of_shutdowns_forever(lifecycles: Lifecycles, horizon_days: int, interval_s: float) -> None:
    """One WARNING per deployment per day, from `horizon_days` before it shuts down while it serves."""
    warned: set[tuple[str, dt.date]] = set()
    while True:
        today = lifecycles.today()
        for deployment, left in lifecycles.warnings(today, horizon_days):
            if (deployment.id, today) not in warned:
                warned.add((deployment.id, today))
                successor = deployment.lifecycle.successor or "no successor: the model will be left unserved"
                log.warning("deployment %s (%s %s) shuts down in %d days, on %s; traffic then moves to %s",
                            deployment.id, deployment.provider, deployment.upstream_model, left,
                            deployment.lifecycle.shutdown_on, successor)
        warned = {w for w in warned if w[1] == today}  # bounded: only today's are kept
        await asyncio.sleep(interval_s)
