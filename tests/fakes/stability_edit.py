"""Fake Stability AI ``POST /v2beta/stable-image/edit/inpaint`` (multipart), added to stability.py's app.

Auth, multipart-only rule, ``Accept`` handling, error body ``{"id", "name", "errors": [...]}``, knobs and
moderation are those of the generate endpoint: ``Accept: image/*`` answers the raw image with
``finish-reason`` (SUCCESS | CONTENT_FILTERED) and ``seed`` headers, ``Accept: application/json`` answers
``{"image": <base64>, "finish_reason", "seed"}``; input moderation is 403 ``content_moderation`` (not
charged), output moderation a 200 with CONTENT_FILTERED (charged).

Fields: ``image`` (file, required: PNG, JPEG or WebP by sniffing; every side at least 64 px; 4,096 to
9,437,184 pixels; aspect ratio between 1:2.5 and 2.5:1), ``prompt`` (required, 1..10000 chars), ``mask``
(file, optional: grey levels, **white = inpaint, black = keep**, thresholded at 128; a mask of another
size is stretched to the image's; without it the image's alpha channel is the mask, transparent =
inpaint, and an image with neither is 400 ``mask: required when the image has no alpha channel``),
``negative_prompt`` (at most 10000 chars), ``grow_mask`` 0..20 (default 5), ``seed`` 0..4294967294 (0 or
absent = random, the chosen seed is reported), ``output_format`` png | jpeg | webp (default png),
``style_preset`` (the generate endpoint's list). Errors name the field: ``["grow_mask: must be between
0 and 20"]``.

The output has the input image's pixel size. Price: 5 credits ($0.05) per call (Stability's edit price
list, 2025-08-01). ``Seen.body`` holds the text fields and, per file, ``inputs.describe`` of it (the
mask's also with ``edit_share``, the share of white pixels).
"""
from __future__ import annotations
