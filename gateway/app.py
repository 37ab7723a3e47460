"""The aiohttp gateway: routes the public REST contract onto ImageService RPCs. No business logic.

Each handler: read → translate (gateway/translate.py) → one RPC → translate back. Failures of any
kind leave as the public JSON error (gateway/errors.py) with the request id.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contract.allocator import BurstPlacement
from contract.errors import echo
from contract.request_ids import new_request_id
from contract.tracing import start_tracing
from gateway.admin import admin_stub_context, build_handlers
from gateway.buffers import PLACEMENT, place_buffers
from gateway.config import GatewaySettings
from gateway.console import console_routes
from gateway.context import CHANNEL, REQUEST_ID, SETTINGS, STUB, TRACING, SlowBody, json_response, rpc_metadata
from gateway.errors import error_response, forwarded_headers, from_rpc_error, public_error
from gateway.forms import UploadTooLarge
from gateway.images import create_images, create_variation, edit_images, get_image
from gateway.jobs import job_routes
from gateway.metrics import GatewayMetrics, metrics_handler, start_own_exporter
from gateway.observe import METRICS, observe
from gateway.openapi import openapi_routes
from gateway.translate import (
    BadRequest,
    model_json,
    models_response,
    usage_request,
    usage_response,
)
from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc

log = logging.getLogger("perf.gateway")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ImageService"].full_name
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_id_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gives every request an id, and turns every failure into the public JSON error."""
    request_id = new_request_id()
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except SlowBody:
        timeout = request.app[SETTINGS].body_read_timeout_s
        log.warning("request body not received within %gs request_id=%s", timeout, request_id)
        response = error_response(public_error("timeout", f"The request body did not arrive within {timeout:g} "
                                               "seconds.", status=408), request_id)
        # Answer and hang up now: aiohttp would otherwise keep reading ("lingering") the stalled body.
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()
        return response
    except (web.RequestPayloadError, BadHttpMessage):  # the body's framing or encoding (chunks, gzip) is broken
        log.warning("malformed request body request_id=%s", request_id)
        response = error_response(public_error("invalid_request", "The request body is not framed or encoded "
                                               "correctly.", status=400))
        response.force_close()
    except BadRequest as exc:
        response = error_response(public_error("invalid_request", exc.message, param=exc.param))
    except grpc.aio.AioRpcError as exc:
        response = error_response(from_rpc_error(exc, request_id))
        response.headers.update(forwarded_headers(exc.trailing_metadata()))
    except UploadTooLarge as exc:
        response = error_response(public_error("invalid_request", str(exc), status=413))
        response.force_close()  # the rest of the upload is not read
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes
        response = error_response(public_error("invalid_request", f"The request body exceeds {limit} bytes.",
                                               status=413))
    except web.HTTPNotFound:
        response = error_response(public_error("not_found", f"No route for {echo(request.method)} "
                                               f"{echo(request.path)}."))
    except web.HTTPMethodNotAllowed as exc:
        response = error_response(public_error("invalid_request", f"{echo(request.method)} is not allowed here.",
                                               status=405, headers={"Allow": ", ".join(sorted(exc.allowed_methods))}))
    except web.HTTPException as exc:
        response = error_response(public_error("invalid_request", exc.reason, status=exc.status))
    except Exception:
        log.exception("gateway error request_id=%s", request_id)
        response = error_response(public_error("internal_error", f"internal error (request {request_id})"))
    if not response.prepared:  # a streamed response sent its headers (with the id) already
        response.headers["x-request-id"] = request_id
    return response


async def list_models(request: web.Request) -> web.Response:
    response = await request.app[STUB].ListModels(pb.ListModelsRequest(), metadata=rpc_metadata(request), timeout=10)
    return json_response(models_response(response))


async def get_model(request: web.Request) -> web.Response:
    response = await request.app[STUB].GetModel(pb.GetModelRequest(model=request.match_info["model"]),
                                                metadata=rpc_metadata(request), timeout=10)
    return json_response(orjson.dumps(model_json(response)))


async def get_usage(request: web.Request) -> web.Response:
    response = await request.app[STUB].GetUsage(usage_request(request.query), metadata=rpc_metadata(request), timeout=30)
    return json_response(usage_response(response))


async def healthz(request: web.Request) -> web.Response:
    return json_response(b'{"status":"ok"}')


async def readyz(request: web.Request) -> web.Response:
    try:
        reply = await health_pb2_grpc.HealthStub(request.app[CHANNEL]).Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1.0)
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.aio.AioRpcError:
        serving = False
    if serving:
        return json_response(b'{"status":"ready"}')
    return json_response(b'{"status":"not ready"}', status=503)


@contextlib.asynccontextmanager
async def _channel_context(app: web.Application) -> AsyncIterator[None]:
    """One channel per process, created inside the running loop (grpc.aio objects are loop-bound)."""
    settings = app[SETTINGS]
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # Keep the connection alive through idle middleboxes during long generations.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        # With a dns:/// target naming several server replicas, spread calls over all of them.
        ("grpc.lb_policy_name", "round_robin"),
    ]
    if settings.tls.enabled:
        channel = grpc.aio.secure_channel(settings.grpc_target, settings.tls.credentials(),
                                          options=options + settings.tls.options())
    else:
        channel = grpc.aio.insecure_channel(settings.grpc_target, options=options)
    async with channel:
        app[CHANNEL] = channel
        app[STUB] = pb_grpc.ImageServiceStub(channel)
        yield


@contextlib.asynccontextmanager
async def _observability_context(app: web.Application) -> AsyncIterator[None]:
    """This process's own metrics port (when set), and the tracer's last export at shutdown."""
    settings = app[SETTINGS]
    own = (await start_own_exporter(app[METRICS], settings.http_host, settings.metrics_port)
           if settings.metrics_port is not None else None)
    try:
        yield
    finally:
        if own is not None:
            await own.cleanup()
        await asyncio.to_thread(app[TRACING].shutdown)  # exports the spans still queued


def build_app(settings: GatewaySettings) -> web.Application:
    app = web.Application(middlewares=[place_buffers, observe, request_id_and_errors],
                          client_max_size=settings.max_body_bytes)
    app[PLACEMENT] = BurstPlacement()
    app[SETTINGS] = settings
    app[METRICS] = GatewayMetrics()
    app[TRACING] = start_tracing(settings.tracing, "perf-gateway")
    app.cleanup_ctx.append(_observability_context)
    app.cleanup_ctx.append(_channel_context)
    app.router.add_post("/v1/images/generations", create_images)
    app.router.add_post("/v1/images/edits", edit_images)
    app.router.add_post("/v1/images/variations", create_variation)
    app.router.add_routes(job_routes())  # async jobs (gateway/jobs.py), before the image route's pattern
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", get_model)
    app.router.add_get("/v1/usage", get_usage)
    app.router.add_get("/v1/images/{image_id}/{expires}/{filename}", get_image)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler(app[METRICS]))
    # The admin API (on the same channel) and the operator console's static files.
    app.cleanup_ctx.append(admin_stub_context)
    app.router.add_routes(build_handlers())
    app.router.add_routes(console_routes(settings.public_url))
    # The contract of all of the above (gateway/openapi.json); a route added here needs its entry there.
    app.router.add_routes(openapi_routes(settings.public_url))
    return app
