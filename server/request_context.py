"""Per-call values set by the interceptors and read by the service, without globals."""
from __future__ import annotations

import contextvars
import re
import secrets
import string

from server.store.records import ApiKey

REQUEST_ID = contextvars.ContextVar[str]("request_id", default="")
CALLER = contextvars.ContextVar["ApiKey | None"]("caller", default=None)

_ALPHABET = string.ascii_letters + string.digits
# Ids from the gateway are accepted only in our own shape, so logs cannot be forged through them.
_ACCEPTED_ID = re.compile(r"req_img_[A-Za-z0-9]{16,40}")


def new_request_id() -> str:
    return "req_img_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def accept_request_id(offered: str | None) -> str:
    return offered if offered and _ACCEPTED_ID.fullmatch(offered) else new_request_id()


def current_caller() -> ApiKey:
    caller = CALLER.get()
    if caller is None:  # the auth interceptor guarantees this for authenticated methods
        raise RuntimeError("no authenticated caller in this context")
    return caller
