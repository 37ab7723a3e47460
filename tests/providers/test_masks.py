"""OpenAI's alpha mask → each inpainting upstream's convention (server/providers/masks.py)."""
from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from server.errors import InvalidRequest
from server.providers.base import GeneratedImage
from server.providers.masks import BLACK_EDITS, WHITE_EDITS, converted_mask
from tests.edit_images import left_half, openai_mask
from tests.fakes.inputs import edit_box, edit_share


def mask_of(data: bytes) -> GeneratedImage:
    with Image.open(io.BytesIO(data)) as image:
        return GeneratedImage(data, "image/png", *image.size)


def levels(image: Image.Image) -> list[int]:
    return [level for level, count in enumerate(image.histogram()) if count]


def convert(data: bytes, convention: str, size: tuple[int, int]) -> GeneratedImage:
    return asyncio.run(converted_mask(mask_of(data), convention, size))  # type: ignore[arg-type]


@pytest.mark.parametrize(("convention", "colour"), [(WHITE_EDITS, "white"), (BLACK_EDITS, "black")])
def test_the_transparent_left_half_becomes_the_edit_colour_and_nothing_else_does(convention: str,
                                                                                colour: str) -> None:
    out = convert(openai_mask(64, 40, left_half(64, 40)), convention, (64, 40))
    assert (out.mime, out.width, out.height) == ("image/png", 64, 40)
    assert edit_share(out.data, colour) == 0.5 and edit_box(out.data, colour) == (0, 0, 32, 40)
    with Image.open(io.BytesIO(out.data)) as image:
        assert image.mode == "L" and levels(image) == [0, 255]  # opaque, two colours only


def test_only_fully_transparent_pixels_are_edited_as_openai_defines_it() -> None:
    # Alpha 1 everywhere except a fully transparent square: only the square is the edit area.
    out = convert(openai_mask(50, 50, (10, 10, 20, 20), keep_alpha=1), WHITE_EDITS, (50, 50))
    assert edit_box(out.data, "white") == (10, 10, 20, 20) and edit_share(out.data, "white") == 0.04


def test_a_mask_of_another_size_is_resized_without_grey_edges() -> None:
    out = convert(openai_mask(100, 50, left_half(100, 50)), BLACK_EDITS, (200, 100))
    assert (out.width, out.height) == (200, 100) and edit_box(out.data, "black") == (0, 0, 100, 100)
    with Image.open(io.BytesIO(out.data)) as image:
        assert levels(image) == [0, 255]


def test_a_mask_with_nothing_to_edit_is_the_callers_400() -> None:
    with pytest.raises(InvalidRequest) as refused:
        convert(openai_mask(32, 32, None), WHITE_EDITS, (32, 32))
    assert refused.value.param == "mask"
