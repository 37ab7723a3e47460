"""The caller's edit mask in each inpainting upstream's own convention.

Callers send OpenAI's mask: a PNG with an alpha channel, the size of the first image, whose FULLY
transparent pixels (alpha 0) mark the area to edit
(https://platform.openai.com/docs/api-reference/images/createEdit, `mask`). The upstreams that
inpaint want an opaque black-and-white picture instead, and disagree on which colour means "edit":

    WHITE_EDITS  white = inpaint, black = keep
                 BFL FLUX.1 Fill [pro] `mask`: "black areas will be preserved while white areas will be
                 inpainted" (https://docs.bfl.ai/flux_tools/flux_1_fill)
                 Stability `v2beta/stable-image/edit/inpaint` `mask`: white = inpaint (client libraries
                 and Stability's own ComfyUI node agree; Stability's sentence was not retrieved)
                 (https://platform.stability.ai/docs/api-reference#tag/Edit)
    BLACK_EDITS  black = edit, white = keep
                 Ideogram 3.0 inpaint: "Black regions in the mask should match up with the regions of
                 the image that you would like to edit"
                 (https://developer.ideogram.ai/v1/api-reference/edit-images/inpaint-v3, and the table of
                 https://developer.ideogram.ai/ideogram-api/masked-edits)

Only alpha 0 counts as "edit", exactly as OpenAI defines it: a half-transparent pixel is kept. A mask
with nothing to edit is the caller's mistake (Ideogram refuses it; BFL and Stability would charge for an
unchanged picture), so it is refused here as a 400 naming `mask`, before anything is sent. Decoding and
re-encoding are CPU work, so they run off the event loop.
"""
from __future__ import annotations

import asyncio
import io
from typing import Literal

from PIL import Image

from server.errors import InvalidRequest
from server.providers.base import GeneratedImage

Convention = Literal["white_edits", "black_edits"]
WHITE_EDITS: Convention = "white_edits"
BLACK_EDITS: Convention = "black_edits"


async def converted_mask(mask: GeneratedImage, convention: Convention, size: tuple[int, int]) -> GeneratedImage:
    """`mask` (OpenAI's alpha convention) as a greyscale PNG of `size` in `convention`; raises
    InvalidRequest(param="mask") when no pixel is fully transparent."""
    return await asyncio.to_thread(_convert, mask, convention, size)


def _convert(mask: GeneratedImage, convention: Convention, size: tuple[int, int]) -> GeneratedImage:
    with Image.open(io.BytesIO(mask.data), formats=["PNG"]) as source:
        alpha = source.convert("RGBA").getchannel("A")
    edit, keep = (255, 0) if convention == WHITE_EDITS else (0, 255)
    # A lookup table, not a per-pixel Python callback: alpha 0 → the edit colour, anything else → keep.
    out = alpha.point([edit] + [keep] * 255)
    if out.size != size:
        # NEAREST keeps the mask two-coloured: a smoothing filter would invent grey edges, which each
        # upstream thresholds its own way.
        out = out.resize(size, Image.Resampling.NEAREST)
    if out.histogram()[edit] == 0:
        raise InvalidRequest("mask has no fully transparent pixels, so there is nothing to edit "
                             "(transparent = the area to change)", param="mask")
    buffer = io.BytesIO()
    out.save(buffer, "PNG", compress_level=3)
    return GeneratedImage(data=buffer.getvalue(), mime="image/png", width=size[0], height=size[1])
