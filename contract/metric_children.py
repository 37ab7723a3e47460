"""A labelled Prometheus metric's children, looked up once per label set instead of on every request.

`metric.labels(...)` validates and stringifies its values and takes the metric's lock each time
(~2.3 µs); a request records about ten series across the gateway and the server. Label values here
are bounded by the catalog and the error table (never by what a caller sent), so the cache is too,
and no child is ever removed from these metrics.
"""
from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child
