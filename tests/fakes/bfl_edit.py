"""Image inputs of the fake BFL API: FLUX.1 Kontext, FLUX.1 Fill and FLUX.2 reference images.

Same ``x-key`` auth, submit-then-poll flow, task statuses, knobs and submit answer ``{"id",
"polling_url", "cost", "input_mp", "output_mp"}`` as bfl.py; ``input_mp`` is the input images' total
pixels / 1e6 (2 decimals), ``cost`` the credits charged (1 credit = $0.01, ChargeLog ``micros`` =
credits * 10,000).

Image fields take raw base64, a ``data:image/...;base64,`` URL, or an ``http(s)`` URL that the fake
downloads (at most 20 MB, 10 s); the bytes must be PNG, JPEG or WebP. Anything else is 422 with
``{"detail": [{"type": "value_error", "loc": ["body", <field>], "msg": "Value error, ...", "input":
<the first 40 characters>}]}``.

``POST /v1/flux-kontext-pro`` | ``/v1/flux-kontext-max`` (JSON): ``prompt`` (required string),
``input_image`` (optional: without it Kontext generates from text), ``input_image_2`` .. ``input_image_4``
(experimental multi-reference), ``aspect_ratio`` ``"W:H"`` between 21:9 and 9:21 (default: the first
input's ratio, else 1:1), ``seed``, ``prompt_upsampling`` (bool), ``safety_tolerance`` 0..6 (default 2;
the "at most 2 when editing" limit third parties quote is not enforced), ``output_format`` jpeg | png
(default png), ``webhook_url``, ``webhook_secret``. The output is about 1 MP at that ratio (sides
multiples of 32; 1:1 is 1024x1024). Credits: 4 (pro) and 8 (max) per image, whatever the inputs.

``POST /v1/flux-pro-1.0-fill`` (JSON): ``image`` (required), ``mask`` (optional, same pixel size as the
image: **white = inpaint, black = keep**, greys thresholded at 128; without it the image's alpha channel
is the mask, transparent = inpaint, and an image with neither is 422), ``prompt`` (default ""), ``steps``
15..50 (50), ``guidance`` 1.5..100 (60), ``prompt_upsampling`` (false), ``seed``, ``output_format`` jpeg |
png (jpeg), ``safety_tolerance`` 0..6 (2), ``webhook_url``, ``webhook_secret``. The output has the image's
pixel size. Credits: 5.

FLUX.2 (``/v1/flux-2-pro`` | ``-max`` | ``-flex`` | ``-klein-4b`` | ``-klein-9b``): the generation fields of
bfl.py plus ``input_image``, ``input_image_2`` .. ``input_image_8`` (klein: up to ``input_image_4``; a
higher one is 422 ``extra_forbidden``, stricter than pydantic's default of ignoring it). Without
``width``/``height`` the output takes the first input's size (snapped down to multiples of 16, shrunk to
at most 4 MP). Credits = first MP + (ceil(output MP) - 1) * per-MP + ceil(total input MP) * per-MP, with
MP = 1024 * 1024 pixels (BFL's formula; 1 MP in + 1 MP out on [pro] is 3 + 1.5 = 4.5).

Recording: ``Seen.body`` is the JSON as sent; ``last_inputs(app)`` maps each image field of the last
submit to ``inputs.describe`` of its decoded bytes (the Fill ``mask`` also with ``edit_share``, the share
of white pixels).
"""
from __future__ import annotations
