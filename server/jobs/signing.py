"""Webhook secrets and signatures, by the Standard Webhooks specification (the `standardwebhooks` library).

    webhook-id         the job's delivery id (msg_…), the same on every attempt
    webhook-timestamp  unix seconds of this attempt
    webhook-signature  "v1,<base64 HMAC-SHA256 over '<id>.<timestamp>.<body>'>" with the key's secret

A secret is `whsec_` + base64 of 32 random bytes, one per API key (server/keys).
"""
from __future__ import annotations

import base64
import datetime as dt
import secrets

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": Webhook(secret).sign(message_id, when, body.decode()),
            "Content-Type": "application/json"}
