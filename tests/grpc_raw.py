"""Calling ImageService with raw bytes (no serializer), and reading an answer's rich error details."""
from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

SERVICE = "/perf.images.v1.ImageService/"
METHODS = ("GenerateImages", "ListModels", "GetModel", "GetImageContent", "GetUsage")


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str
    reason: str | None = None  # ErrorInfo.reason, when the status carries one
    domain: str | None = None
    field: str | None = None  # the first BadRequest field violation
    trailer_bytes: int = 0


def call_raw(channel: grpc.Channel, method: str, payload: bytes, key: str | None = None,
             timeout_s: float = 10.0) -> Outcome:
    rpc = channel.unary_unary(SERVICE + method, request_serializer=None, response_deserializer=None)
    metadata = (("authorization", f"Bearer {key}"),) if key else ()
    try:
        rpc(payload, metadata=metadata, timeout=timeout_s)
    except grpc.RpcError as error:
        return outcome_of(error)
    return Outcome(grpc.StatusCode.OK, "")


def outcome_of(error: grpc.RpcError) -> Outcome:
    trailers = tuple(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    size = sum(len(k) + len(v) for k, v in trailers)
    reason = domain = field = None
    for key, value in trailers:
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain = info.reason, info.domain
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                field = bad.field_violations[0].field if bad.field_violations else None
    return Outcome(error.code(), error.details() or "", reason, domain, field, size)  # type: ignore[attr-defined]
