"""Fake OpenAI ``POST /v1/images/edits``: multipart/form-data exactly as the official SDKs send it.

Request (``Authorization: Bearer``; any other Content-Type than multipart/form-data is 400; parts in any
order, chunked bodies accepted; a field's last occurrence wins):

- file parts: ``image`` (one file) **or** ``image[]`` (repeated, 1..16; the SDKs send a list, even of one,
  as ``image[]``; both names in one request is 400 ``param: image``); optional ``mask``. Filenames and
  part Content-Types are ignored: the type is sniffed from the bytes (PNG/JPEG/WebP, see inputs.py) and
  the pixel size read from the header.
- text parts: ``prompt`` (required; at most 32000 chars, dall-e-2 1000), ``model`` (default
  ``gpt-image-1.5``, the SDK's documented edit default; also gpt-image-1, gpt-image-1-mini, gpt-image-2,
  gpt-image-2-2026-04-21, chatgpt-image-latest, dall-e-2), ``n`` 1..10, ``size``, ``quality``,
  ``background``, ``output_format``, ``output_compression``, ``input_fidelity``, ``response_format``
  (dall-e-2 only), ``user``, ``safety_identifier``, ``stream`` (``true``/``false``), ``partial_images``
  0..3. Integers are decimal strings, booleans ``true``/``false``; anything else is 400 ``invalid_type``.
  Any other part name is 400 ``unknown_parameter`` -- including ``moderation`` and ``style``, which the
  edit endpoint does not take (SDK ``image_edit_params``).

Rules, as 400s in OpenAI's ``{"error": {message, type, param, code}}`` envelope:

- GPT image models: each image PNG, JPEG or WebP, at most 50 MB (``param: image``, code
  ``image_too_large``), at most 16 (``array_above_max_length``). dall-e-2: exactly one square PNG under
  4 MB, and without a mask it must have an alpha channel (``invalid_image_format``).
- An image that is not PNG/JPEG/WebP or does not decode: ``param: image``, code ``invalid_image_file``,
  "Invalid image file or mode for image N, ..." (N is 1-based). No image at all: ``missing_required_parameter``.
- ``mask``: PNG, under 4 MB, with an alpha channel (else ``invalid_image_file``, ``param: mask``), and the
  same pixel size as the first image (else ``invalid_value``, ``param: mask``). Fully transparent pixels
  (alpha 0) are the area to edit.
- ``input_fidelity``: ``high`` | ``low`` (default low). gpt-image-1-mini supports only ``low``
  (``high`` is ``unsupported_value``); gpt-image-2 takes none ("omit this parameter": any value is
  ``unsupported_parameter``); dall-e-2: ``unknown_parameter``.
- ``size``: as for generations (gpt-image-2 free-form ``WxH``; other GPT models 1024x1024, 1536x1024,
  1024x1536, auto; dall-e-2 256x256, 512x512, 1024x1024, default 1024x1024). ``auto`` follows the first
  image: width/height >= 1.25 gives 1536x1024, <= 0.8 gives 1024x1536, else 1024x1024.
- ``quality``, ``background``, ``output_format``, ``output_compression``, ``partial_images``: as for
  generations (openai_rules.py). ``stream=true``: GPT models only, and only with n=1 (400
  "Streaming is only supported with n=1.", ``param: n``); the answer is then the SSE stream of
  openai_stream.py with ``image_edit.*`` events.

Answer (200): ``ImagesResponse`` as for generations: ``created``, ``data[]`` of ``{b64_json}`` (GPT) or
``{url}``/``{b64_json}`` (dall-e-2, by ``response_format``, default url), and for GPT models ``usage``
plus the top-level ``background``, ``output_format``, ``size`` (``WxH`` delivered), ``quality``.
``usage.input_tokens_details``: ``text_tokens`` = max(1, len(prompt) // 4); ``image_tokens`` = the sum over
the input images (not the mask) of OpenAI's vision tile rule for gpt-image-1: fit inside 2048x2048, scale
down so the shorter side is at most 512 (rounding down), tiles = ceil(w/512) * ceil(h/512), tokens =
65 + 129 * tiles (a 1024x1024 input is 194 tokens, as measured on the live API); ``input_fidelity=high``
adds 2856 tokens per megapixel of the fitted image (so 3050 for 1024x1024, fal's published figure).
Output tokens as for generations. Charged (ChargeLog) at list price from openai.TOKEN_PRICES (dall-e-2:
DALLE_PRICES), like generations; every generation knob applies.

Recording: ``Seen.body`` holds the text parts exactly as sent (strings) and, per file part name, a list of
``inputs.describe`` dicts plus ``filename`` and ``content_type`` (the mask's also ``edit_share``: share of
fully transparent pixels). ``last_upload(app)`` gives the raw bytes of the last request's images and mask.
"""
from __future__ import annotations
