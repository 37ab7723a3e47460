"""Where images are stored and which URLs point at them, read once from the environment.

    PERF_IMAGE_STORE   unset: the directory $PERF_DATA_DIR/images   s3://bucket/prefix: an S3-compatible bucket
    PERF_IMAGE_URLS    signed (ours, served by the gateway) | presigned (the store's own GET URLs; S3 only)

S3 credentials come from the standard AWS variables (each also as <NAME>_FILE, the form container
secrets take); when none is set, the AWS SDK's own chain (profile, container or instance role) applies.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from server.providers.settings import read_setting

URL_MODES = ("signed", "presigned")
# S3's own rule for bucket names (what every compatible store accepts).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    # "" or ending in "/": object keys are prefix + "img_….png".
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    # Put a 1-day expiration rule on the prefix at start (where the store supports it).
    lifecycle: bool = True


@dataclass(frozen=True)
class StorageSettings:
    s3: S3Settings | None = None
    urls: str = "signed"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageSettings:
        urls = env.get("PERF_IMAGE_URLS", "signed") or "signed"
        if urls not in URL_MODES:
            raise ValueError(f"PERF_IMAGE_URLS must be one of {', '.join(URL_MODES)}, not {urls!r}")
        location = env.get("PERF_IMAGE_STORE", "")
        s3 = _s3_settings(location, env) if location else None
        if urls == "presigned" and s3 is None:
            raise ValueError("PERF_IMAGE_URLS=presigned needs an S3 image store (PERF_IMAGE_STORE=s3://bucket/prefix)")
        return cls(s3=s3, urls=urls)


def _s3_settings(location: str, env: Mapping[str, str]) -> S3Settings:
    parts = urlsplit(location)
    if parts.scheme != "s3" or not _BUCKET.fullmatch(parts.netloc) or parts.query or parts.fragment:
        raise ValueError(f"PERF_IMAGE_STORE must look like s3://bucket/prefix, not {location!r}")
    prefix = parts.path.strip("/")
    return S3Settings(
        bucket=parts.netloc,
        prefix=prefix + "/" if prefix else "",
        endpoint_url=env.get("PERF_S3_ENDPOINT_URL") or None,
        region=env.get("PERF_S3_REGION") or env.get("AWS_REGION") or "us-east-1",
        access_key_id=read_setting(env, "AWS_ACCESS_KEY_ID", secret=True),
        secret_access_key=read_setting(env, "AWS_SECRET_ACCESS_KEY", secret=True),
        session_token=read_setting(env, "AWS_SESSION_TOKEN", secret=True),
        lifecycle=env.get("PERF_S3_LIFECYCLE", "1") not in ("0", "false", "no"),
    )
