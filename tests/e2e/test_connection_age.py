"""PERF_GRPC_MAX_CONNECTION_AGE_SECONDS: clients are made to reconnect (and so re-resolve DNS) after the age."""
from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.stack import Stack


def states_after_a_call(stack: Stack, wait_s: float) -> list[grpc.ChannelConnectivity]:
    seen: list[grpc.ChannelConnectivity] = []

    def record(state: grpc.ChannelConnectivity) -> None:
        seen.append(state)

    with grpc.insecure_channel(stack.grpc_target) as channel:
        channel.subscribe(record)
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        time.sleep(wait_s)
        channel.unsubscribe(record)
    return seen


def test_connections_are_closed_after_the_age_and_kept_without_it(make_stack: Callable[..., Stack]) -> None:
    aged = states_after_a_call(make_stack(PERF_GRPC_MAX_CONNECTION_AGE_SECONDS="1"), wait_s=3)
    ready = aged.index(grpc.ChannelConnectivity.READY)
    assert grpc.ChannelConnectivity.IDLE in aged[ready:], aged  # GOAWAY: the channel lets the connection go
    kept = states_after_a_call(make_stack(), wait_s=3)
    assert grpc.ChannelConnectivity.IDLE not in kept[kept.index(grpc.ChannelConnectivity.READY):], kept
