"""Checks one HTTP response of the gateway against its OpenAPI document (gateway/openapi.json).

    check_response(method, path, status, headers, body)  →  None, or raises ContractViolation

The operation is found by path template and method; its documented response for the status (or a
protocol-level refusal the document's description allows on every route: 400, 404 for no route, 405,
413, 414, 417, 431, 501, each in the one error shape) gives what must hold: the media type is one it
lists, every required header is present and each documented one matches its schema, a JSON body
validates against the schema, and an event stream is frames of `event:` + one `data:` line whose JSON
validates against the event schema's `data` contentSchema and whose `type` repeats the event name.

JSON Schema 2020-12 by jsonschema_rs, the engine schemathesis itself uses (so the hook and the fuzz
run agree on what valid means); the whole document is one registry resource and every schema is a
`$ref` into it, so nothing is copied or resolved by hand.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "gateway" / "openapi.json"
BASE_URI = "urn:perf:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# What HTTP itself may refuse on any route, before an operation runs (info.description of the document).
PROTOCOL_STATUSES = frozenset({400, 404, 405, 413, 414, 417, 431, 501})
ERROR_SCHEMA = "#/components/schemas/Error"


class ContractViolation(AssertionError):
    """A response the document does not allow."""


@dataclass(frozen=True)
class Route:
    template: str
    pattern: re.Pattern[str]
    item: dict[str, Any]


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
    return loaded


@cache
def _registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(BASE_URI, document())])


@cache
def _validator(pointer: str) -> Any:
    # A JSON pointer in a URI fragment is percent-encoded ({image_id} and the like are not URI characters).
    return jsonschema_rs.Draft202012Validator({"$ref": BASE_URI + quote(pointer, safe="#/~")}, registry=_registry(),
                                              validate_formats=True)


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


@cache
def routes() -> tuple[Route, ...]:
    """The document's paths as patterns; literal paths before templated ones, as the router tries them."""
    found = []
    for template, item in document()["paths"].items():
        # A parameter is one segment, except a trailing `path` parameter (console assets) which may hold slashes.
        regex = re.sub(r"\{([a-z_]+)\}", lambda m: "(.+)" if m[1] == "path" else "([^/]+)", re.escape(template)
                       .replace(r"\{", "{").replace(r"\}", "}"))
        found.append(Route(template, re.compile(regex), item))
    return tuple(sorted(found, key=lambda route: "{" in route.template))


def _resolve(node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A response or header object with its `$ref` followed, and the pointer it was found at."""
    ref = node.get("$ref")
    if ref is None:
        return node, None
    target: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target, ref


def find_route(path: str) -> Route | None:
    return next((route for route in routes() if route.pattern.fullmatch(path)), None)


def check_response(method: str, path: str, status: int, headers: dict[str, str], body: bytes, *,
                   body_read: bool = True) -> None:
    """Raises ContractViolation unless the document allows this response (`body_read=False`: the caller
    did not read the body, so only the status, headers and media type are checked)."""
    path = path.split("?", 1)[0]
    lowered = {name.lower(): value for name, value in headers.items()}
    route = find_route(path)
    verb = method.lower()
    operation = route.item.get(verb) if route else None
    if operation is None and verb == "head" and route is not None:
        verb = "get"  # aiohttp answers HEAD on every GET route: the GET's headers, no body
        operation = route.item.get(verb)
    where = f"{method} {path} → {status}"
    if operation is None:  # no such path, or not this method on it: only a refusal may answer
        if status not in PROTOCOL_STATUSES:
            raise ContractViolation(f"{where}: {'method' if route else 'path'} not documented, yet not a refusal")
        _check_error(where, lowered, body, method, body_read)
        return
    assert route is not None
    documented = operation["responses"].get(str(status))
    if documented is None:
        if status in PROTOCOL_STATUSES:
            _check_error(where, lowered, body, method, body_read)
            return
        raise ContractViolation(f"{where}: status not documented for {method.upper()} {route.template}"
                                f" (documented: {', '.join(operation['responses'])}); body {body[:300]!r}")
    response, ref = _resolve(documented)
    pointer = ref or f"#/paths/{_escape(route.template)}/{verb}/responses/{status}"
    _check_headers(where, response, pointer, lowered)
    content = response.get("content")
    if not content:
        return
    media_type = lowered.get("content-type", "").split(";", 1)[0].strip()
    if media_type not in content:
        raise ContractViolation(f"{where}: content-type {media_type!r} not one of {', '.join(content)}")
    if method.upper() == "HEAD" or not body_read:
        return
    media_pointer = f"{pointer}/content/{_escape(media_type)}"
    if media_type == "application/json":
        _validate(where, f"{media_pointer}/schema", _json(where, body))
    elif media_type == "text/event-stream":
        # The schema is one event ({event, data}); its data's JSON is the contentSchema beside it.
        _, event_ref = _resolve(content[media_type]["schema"])
        _check_events(where, event_ref or f"{media_pointer}/schema", body)


def _check_error(where: str, headers: dict[str, str], body: bytes, method: str, body_read: bool) -> None:
    if not headers.get("x-request-id"):
        raise ContractViolation(f"{where}: no x-request-id")
    if headers.get("content-type", "").split(";", 1)[0] != "application/json":
        raise ContractViolation(f"{where}: an error must be application/json, not {headers.get('content-type')!r}")
    if method.upper() != "HEAD" and body_read:
        _validate(where, ERROR_SCHEMA, _json(where, body))


def _check_headers(where: str, response: dict[str, Any], pointer: str, headers: dict[str, str]) -> None:
    for name, node in response.get("headers", {}).items():
        header, header_ref = _resolve(node)
        value = headers.get(name.lower())
        if value is None:
            if header.get("required"):
                raise ContractViolation(f"{where}: required header {name} missing")
            continue
        schema_pointer = f"{header_ref}/schema" if header_ref else f"{pointer}/headers/{_escape(name)}/schema"
        _validate(f"{where} header {name}", schema_pointer, value)


def _json(where: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ContractViolation(f"{where}: body is not JSON ({exc}): {body[:200]!r}") from None


def _validate(where: str, pointer: str, instance: Any) -> None:
    errors = list(_validator(pointer).iter_errors(instance))
    if errors:
        shown = "; ".join(f"at /{'/'.join(map(str, e.instance_path))}: {e.message[:300]}" for e in errors[:5])
        raise ContractViolation(f"{where}: body does not match {pointer}: {shown}")


def _check_events(where: str, pointer: str, body: bytes) -> None:
    text = body.decode("utf-8")
    frames = [frame for frame in text.split("\n\n") if frame]
    if not frames or not text.endswith("\n\n"):
        raise ContractViolation(f"{where}: an event stream must be whole frames, each ending in a blank line")
    for frame in frames:
        lines = frame.split("\n")
        if len(lines) != 2 or not lines[0].startswith("event: ") or not lines[1].startswith("data: "):
            raise ContractViolation(f"{where}: frame is not `event:` then one `data:` line: {frame[:200]!r}")
        event = {"event": lines[0].removeprefix("event: "), "data": lines[1].removeprefix("data: ")}
        _validate(f"{where} event", pointer, event)
        data = _json(where, event["data"].encode())
        _validate(f"{where} event {event['event']}", f"{pointer}/properties/data/contentSchema", data)
        if data.get("type") != event["event"]:
            raise ContractViolation(f"{where}: event {event['event']!r} carries type {data.get('type')!r}")


def check_webhook(name: str, headers: dict[str, str], body: bytes) -> None:
    """Raises ContractViolation unless a webhook request our server sent (to a test receiver) is what the
    document's `webhooks/<name>` promises: its required headers, each matching its schema, and its JSON body."""
    pointer = f"#/webhooks/{_escape(name)}/post"
    operation = document()["webhooks"][name]["post"]
    lowered = {key.lower(): value for key, value in headers.items()}
    where = f"webhook {name}"
    for index, parameter in enumerate(operation.get("parameters", [])):
        value = lowered.get(parameter["name"].lower())
        if value is None:
            if parameter.get("required"):
                raise ContractViolation(f"{where}: required header {parameter['name']} missing")
            continue
        _validate(f"{where} header {parameter['name']}", f"{pointer}/parameters/{index}/schema", value)
    media_type = lowered.get("content-type", "").split(";", 1)[0].strip()
    content = operation["requestBody"]["content"]
    if media_type not in content:
        raise ContractViolation(f"{where}: content-type {media_type!r} not one of {', '.join(content)}")
    _validate(where, f"{pointer}/requestBody/content/{_escape(media_type)}/schema", _json(where, body))
