"""What a job runs: its stored SubmitJobRequest as the pipeline kind and request it is."""
from __future__ import annotations

from typing import Any

from perf.images.v1 import image_service_pb2 as pb
from server.errors import InvalidRequest
from server.pipeline.kinds import EDIT_IMAGES, GENERATE, Kind


def kind_of(submit: pb.SubmitJobRequest) -> tuple[Kind, Any]:
    which = submit.WhichOneof("request")
    if which == "generation":
        return GENERATE, submit.generation
    if which == "edit":
        return EDIT_IMAGES, submit.edit
    raise InvalidRequest("a job needs a generation or an edit to run", param="request")
