"""Request bytes for ImageService: random bytes, well-formed messages with hostile field values, and
well-formed messages damaged byte by byte (the closest misses of a parser)."""
from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message
from hypothesis import strategies as st

from perf.images.v1 import image_service_pb2 as pb
from tests.fuzz.values import MODELS, SIZES, dates, long_text, words
from tests.grpc_raw import METHODS

texts = st.one_of(words, long_text)
doubles = st.floats(allow_nan=True, allow_infinity=True)
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)


def _optional(value: st.SearchStrategy[object]) -> st.SearchStrategy[object | None]:
    return st.one_of(st.none(), value)


@st.composite
def generation(draw: st.DrawFn) -> Message:
    fields = {
        "model": draw(_optional(st.one_of(st.sampled_from(MODELS), texts))),
        "n": draw(_optional(st.one_of(st.integers(-1, 11), int32s))),
        "size": draw(_optional(st.one_of(st.sampled_from(SIZES), texts))),
        "quality": draw(_optional(st.one_of(st.sampled_from(["standard", "hd"]), words))),
        "style": draw(_optional(st.one_of(st.sampled_from(["vivid", "natural"]), words))),
        "response_format": draw(_optional(st.one_of(st.sampled_from(["url", "b64_json"]), words))),
        "user": draw(_optional(texts)),
        "max_cost_per_call": draw(_optional(doubles)),
    }
    prompt = draw(st.one_of(st.sampled_from(["a lighthouse", ""]), texts))
    return pb.GenerateImagesRequest(prompt=prompt, **{k: v for k, v in fields.items() if v is not None})


MESSAGES: dict[str, st.SearchStrategy[Message]] = {
    "GenerateImages": generation(),
    "ListModels": st.just(pb.ListModelsRequest()),
    "GetModel": st.builds(pb.GetModelRequest, model=st.one_of(st.sampled_from(MODELS), texts)),
    "GetImageContent": st.builds(pb.GetImageContentRequest, image_id=st.one_of(st.just("img_" + "0" * 32), texts),
                                 expires=int64s, signature=st.one_of(st.just("A" * 43), texts),
                                 extension=st.sampled_from(["png", "jpg", "webp", "PNG", "", "exe"])),
    "GetUsage": st.builds(pb.GetUsageRequest, start=dates, end=dates),
}


@dataclass(frozen=True)
class GrpcCase:
    method: str
    payload: bytes
    key: str | None


@st.composite
def damaged(draw: st.DrawFn, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["flip", "cut", "insert"]))
        if operation == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


@st.composite
def grpc_cases(draw: st.DrawFn, key: str) -> GrpcCase:
    method = draw(st.sampled_from(METHODS))
    kind = draw(st.sampled_from(["random", "valid", "damaged", "damaged"]))
    if kind == "random":
        payload = draw(st.binary(max_size=120))
    else:
        payload = draw(MESSAGES[method]).SerializeToString()
        if kind == "damaged":
            payload = draw(damaged(payload))
    caller = draw(st.sampled_from([key, key, key, None, "pk_test_" + "A" * 40]))
    return GrpcCase(method, payload, caller)
