"""Fake Ideogram 3.0 ``POST /v1/ideogram-v3/inpaint`` (multipart), added to ideogram.py's app.

Auth (``Api-Key``), the multipart-only rule, error body ``{"error": <message>}``, knobs, the response
``{"created": <ISO-8601>, "data": [{url, prompt, resolution, is_image_safe, seed, style_type}]}`` and
moderation (input: 422, not charged; output: ``is_image_safe: false`` with ``url: null``, charged) are
those of ``/v1/ideogram-v3/generate``.

Fields: ``image`` (file, required: PNG, JPEG or WebP by sniffing, at most 25 MB), ``mask`` (file, at most 25 MB,
required: same pixel size as the image; **black = edit, white = keep**, greys thresholded at 128, and it
must contain some black), ``prompt`` (required), ``magic_prompt`` AUTO | ON | OFF, ``num_images`` 1..8,
``seed`` 0..2147483647, ``rendering_speed`` FLASH | TURBO | DEFAULT | QUALITY (default DEFAULT),
``style_type`` AUTO | GENERAL | REALISTIC | DESIGN | FICTION (default GENERAL), ``color_palette`` (JSON
text), ``style_codes``, ``style_reference_images`` (files, counted only). Missing or bad fields are 400
``{"error": "..."}``.

Every output image has the input image's size (``resolution``). Price per output image as 3.0 generate
by ``rendering_speed`` (ideogram.PRICES ``V_3_<speed>``: FLASH/TURBO $0.03, DEFAULT $0.06, QUALITY
$0.09; Ideogram prices Edit like Generate). ``Seen.body`` holds the text fields (lists, as for generate)
and, per file, ``inputs.describe`` of it (the mask's also with ``edit_share``, the share of black pixels).
"""
from __future__ import annotations
