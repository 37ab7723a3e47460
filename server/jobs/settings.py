"""Job and webhook settings, read once from the environment (README configuration table)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class JobSettings:
    # Jobs each replica runs at once per provider (the queue is the store; the rest wait there).
    workers_per_pool: int = 4
    # A running job's lease: renewed by its worker every third of it; once it lapses another replica
    # takes the job over (and resumes it).
    lease_s: float = 30.0
    # How often idle workers look for queued jobs (and for jobs whose lease lapsed).
    poll_s: float = 1.0
    # Webhooks: the first retry's delay (doubling after each failure, at most an hour), how long to
    # keep retrying from completion, and each attempt's timeout.
    webhook_retry_base_s: float = 5.0
    webhook_retry_for_s: float = 24 * 3600.0
    webhook_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JobSettings:
        return cls(
            workers_per_pool=int(env.get("PERF_JOB_WORKERS", str(cls.workers_per_pool))),
            lease_s=float(env.get("PERF_JOB_LEASE_SECONDS", str(cls.lease_s))),
            poll_s=float(env.get("PERF_JOB_POLL_SECONDS", str(cls.poll_s))),
            webhook_retry_base_s=float(env.get("PERF_WEBHOOK_RETRY_BASE_SECONDS", str(cls.webhook_retry_base_s))),
            webhook_retry_for_s=float(env.get("PERF_WEBHOOK_RETRY_SECONDS", str(cls.webhook_retry_for_s))),
            webhook_timeout_s=float(env.get("PERF_WEBHOOK_TIMEOUT_SECONDS", str(cls.webhook_timeout_s))),
        )
