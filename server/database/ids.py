"""Row ids that sort by creation time: a prefix, the millisecond clock in hex, then random bits.

Listings page on (created second, id); with these ids rows made within one second still come out
in the order they were made, and two processes making ids at once cannot collide (48 random bits).
"""
from __future__ import annotations

import secrets
import time


def ordered_id(prefix: str) -> str:
    return f"{prefix}{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"
