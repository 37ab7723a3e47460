"""multipart/form-data uploads (edits, variations) read as a stream, and translated to proto.

The official SDKs send one image as `image` and a list (even of one) as repeated `image[]`, the mask
as `mask`, booleans as `true`/`false` and numbers as decimal strings, parts in any order (Node puts
files first) and sometimes chunked. Each file is counted while it arrives against the per-file cap
and all of them against the total (PERF_MAX_UPLOAD_FILE_BYTES / PERF_MAX_UPLOAD_BYTES): the first
byte over is a 413, never a buffer grown to whatever the client sends. Whether a file is an image
at all, and of what size, is the server's check (it reads the bytes, not names or part types).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from contract.errors import echo
from gateway.translate import BadRequest
from perf.images.v1 import image_service_pb2 as pb

FILE_FIELDS = frozenset({"image", "image[]", "mask"})
MAX_TEXT_BYTES = 64 * 1024  # a prompt of 4000 characters is at most 16 KB
_DECIMAL = re.compile(r"-?[0-9]{1,10}")  # ASCII digits only: int() would take '²' and '٣'
_NUMBER = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")


class UploadTooLarge(Exception):
    """The upload went past one of its caps; the message says which (413)."""


@dataclass
class Form:
    text: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[bytes]] = field(default_factory=dict)


async def read_form(request: web.Request, max_file_bytes: int, max_total_bytes: int) -> Form:
    if request.content_type != "multipart/form-data":
        raise BadRequest("This route takes multipart/form-data (images as files, the rest as fields).")
    try:
        return await _parts(request, max_file_bytes, max_total_bytes)
    except (BadRequest, UploadTooLarge):
        raise
    except (KeyError, ValueError, RuntimeError):
        # aiohttp's reader: no boundary in Content-Type (KeyError), one too long or not the one the body
        # uses (ValueError), a part encoding it does not know (RuntimeError). The client's mistake: 400.
        raise BadRequest("The multipart body is malformed: Content-Type must carry the boundary the parts "
                         "are separated by.") from None


async def _parts(request: web.Request, max_file_bytes: int, max_total_bytes: int) -> Form:
    reader = await request.multipart()
    form, total = Form(), 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            raise BadRequest("Every part needs a name.")
        name = part.name
        if name in FILE_FIELDS:
            data = await _read(part, max_file_bytes, f"Each file may be at most {max_file_bytes} bytes.",
                               max_total_bytes - total, f"The files may be at most {max_total_bytes} bytes together.")
            total += len(data)
            form.files.setdefault(name, []).append(data)
        else:
            raw = await _read(part, MAX_TEXT_BYTES, f"A field may be at most {MAX_TEXT_BYTES} bytes.", MAX_TEXT_BYTES, "")
            try:
                form.text[name] = raw.decode("utf-8")  # the last occurrence wins, as OpenAI's does
            except UnicodeDecodeError:
                raise BadRequest(f"{echo(name)} is not UTF-8 text.", param=echo(name)) from None
    return form


async def _read(part: BodyPartReader, cap: int, cap_message: str, room: int, room_message: str) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > cap:
            raise UploadTooLarge(cap_message)
        if size > room:
            raise UploadTooLarge(room_message)
        chunks.append(chunk)
    return b"".join(chunks)


EDIT_TEXT = frozenset({"prompt", "model", "n", "size", "quality", "background", "output_format", "output_compression",
                       "input_fidelity", "response_format", "user", "safety_identifier", "stream", "partial_images",
                       "max_cost_per_call"})
VARIATION_TEXT = frozenset({"model", "n", "size", "response_format", "user", "max_cost_per_call"})
_INTS = frozenset({"n", "output_compression", "partial_images"})


def edit_request(form: Form) -> tuple[pb.EditImagesRequest, bool]:
    """The proto edit request, and whether the caller asked for a stream (`stream=true`)."""
    _known(form, EDIT_TEXT, FILE_FIELDS)
    if "image" in form.files and "image[]" in form.files:
        raise BadRequest("Send the image as image, or the images as image[], not both.", param="image")
    if len(form.files.get("mask", [])) > 1:
        raise BadRequest("Send at most one mask.", param="mask")
    request = pb.EditImagesRequest(images=form.files.get("image", []) + form.files.get("image[]", []))
    if "mask" in form.files:
        request.mask = form.files["mask"][0]
    _fill(request, form, EDIT_TEXT - {"stream"})
    return request, _boolean(form.text.get("stream"), "stream")


def variation_request(form: Form) -> pb.CreateImageVariationRequest:
    _known(form, VARIATION_TEXT, frozenset({"image"}))
    if len(form.files.get("image", [])) > 1:
        raise BadRequest("A variation takes one image.", param="image")
    request = pb.CreateImageVariationRequest(image=form.files.get("image", [b""])[0])
    _fill(request, form, VARIATION_TEXT)
    return request


def _known(form: Form, text: frozenset[str], files: frozenset[str]) -> None:
    for name in (*form.text, *form.files):
        if name not in text and name not in files:
            raise BadRequest(f"Unknown parameter: '{echo(name)}'.", param=echo(name))


def _fill(request: pb.EditImagesRequest | pb.CreateImageVariationRequest, form: Form, names: frozenset[str]) -> None:
    for name in names & form.text.keys():
        value = form.text[name]
        if name in _INTS:
            if not _DECIMAL.fullmatch(value):
                raise BadRequest(f"{name} must be an integer.", param=name)
            setattr(request, name, int(value))
        elif name == "max_cost_per_call":
            if not _NUMBER.fullmatch(value):
                raise BadRequest("max_cost_per_call must be a number.", param=name)
            request.max_cost_per_call = float(value)
        elif name != "safety_identifier":
            setattr(request, name, value)
    if form.text.get("safety_identifier") and "safety_identifier" in names:
        request.user = form.text["safety_identifier"]  # OpenAI's 2026 name for `user`; it wins


def _boolean(value: str | None, name: str) -> bool:
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest(f"{name} must be true or false.", param=name)
