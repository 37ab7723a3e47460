"""OpenAI image streaming (``stream: true``) for the fake's generations and edits, as the SDKs parse it.

Asked for by JSON ``"stream": true`` on ``/v1/images/generations`` or the form field ``stream=true`` on
``/v1/images/edits``; GPT image models only, and only with ``n`` = 1 (otherwise 400 "Streaming is only
supported with n=1.", ``param: n``, the answer OpenAI is reported to give). Everything decided before the
first byte -- auth, validation, rate limit, input moderation, ``fail_before_charge_next`` -- is the
ordinary JSON error with its HTTP status. Otherwise: 200, ``Content-Type: text/event-stream;
charset=utf-8``, ``Cache-Control: no-cache``, ``x-request-id``, chunked, and these frames (one ``event:``
line, one ``data:`` line of compact JSON, a blank line; ``<kind>`` is ``image_generation`` or
``image_edit``)::

    event: <kind>.partial_image
    data: {"type": "<kind>.partial_image", "b64_json": ..., "created_at": <unix s>, "size": "WxH",
           "quality": "low|medium|high", "background": "opaque|transparent",
           "output_format": "png|jpeg|webp", "partial_image_index": 0}

    ... ``partial_images`` of them (0..3), index 0 first, each the final image less pixelated than the
    one before (same pixel size, format, compression and alpha as the final image) ...

    event: <kind>.completed
    data: {"type": "<kind>.completed", "b64_json": ..., "created_at", "size", "quality", "background",
           "output_format", "usage": {"total_tokens", "input_tokens", "output_tokens",
                                      "input_tokens_details": {"text_tokens", "image_tokens"}}}

and then the connection closes (no ``[DONE]``; both SDKs end on EOF). ``usage`` is the non-streamed
request's (no ``output_tokens_details``, as the event type has none) plus 100 output tokens per partial
image sent, which is what OpenAI's image guide says each partial image costs. The charge (ChargeLog, at
list price) is recorded once the final image exists: after the partial images, before the completed event.

Failures after the 200, as the error frame both SDKs raise on (``openai.APIError`` with ``.code``)::

    event: error
    data: {"type": "error", "error": {"type": "server_error", "code": "image_generation_failed",
                                      "message": "...", "param": null}}

then close. Output moderation on a stream is that frame with the ``moderation_blocked`` error body of a
non-streamed request, sent before any partial image and not charged.

Knobs: ``stream_event_interval_s`` (pause before each event), ``stream_partials_sent`` (send fewer
partials than asked for), ``stream_fail_next`` and ``fail_after_charge_next`` (charged, then the error
frame instead of the completed event), ``stream_drop_next`` (charged, then the connection is cut after the
partials without the terminating chunk), ``malformed_body_next`` (charged, the completed frame cut in
half, then the connection closed).
"""
from __future__ import annotations
