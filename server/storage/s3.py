"""Images in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, ...), through aiobotocore.

aiobotocore is botocore (the AWS SDK's own request signing, retries, pagination and presigning)
on aiohttp, which we already run: one client per process, created inside the running loop.

Object keys are `<prefix>img_<32 hex>.<ext>`. Expiry has two layers (reliability.md §5.3): our URL
signature (or the presigned URL's own expiry) ends access after the TTL; deletion is the sweeper's
(`sweep`, by LastModified), with a 1-day bucket lifecycle rule on the prefix as a backstop, since
lifecycle rules count in whole days and run asynchronously.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

from server.storage.base import OBJECT_NAME, ObjectBody, StorageUnavailable, new_image_id, valid_name
from server.storage.mime import EXTENSIONS
from server.storage.settings import S3Settings

log = logging.getLogger("perf.server")
_MISSING = {"NoSuchKey", "404", "NotFound"}
_NO_LIFECYCLE = {"NoSuchLifecycleConfiguration"}
_DELETE_BATCH = 1000  # DeleteObjects' own limit


class S3ImageStore:
    def __init__(self, client: Any, settings: S3Settings, exit_stack: contextlib.AsyncExitStack) -> None:
        self._client = client
        self._bucket = settings.bucket
        self._prefix = settings.prefix
        self._exit_stack = exit_stack

    @classmethod
    async def connect(cls, settings: S3Settings) -> S3ImageStore:
        """A store with its client; call inside the running loop (the client's session is bound to it)."""
        config = AioConfig(
            signature_version="s3v4",  # SigV2 presigned URLs are refused by AWS and lack X-Amz-Expires
            # Compatible stores answer on one host with the bucket in the path; AWS picks for itself.
            s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
            # botocore's default streaming checksums (aws-chunked uploads) are not understood by every
            # S3-compatible store; send checksums only where an operation requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=2, read_timeout=10,
            # One retry of a failed attempt (a PUT of a new key is idempotent, so it never duplicates); more
            # would only make a caller wait longer for the 503 during an outage.
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=64,
        )
        exit_stack = contextlib.AsyncExitStack()
        client = await exit_stack.enter_async_context(AioSession().create_client(
            "s3", region_name=settings.region, endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key_id, aws_secret_access_key=settings.secret_access_key,
            aws_session_token=settings.session_token, config=config))
        return cls(client, settings, exit_stack)

    def key(self, image_id: str, ext: str) -> str:
        return f"{self._prefix}{image_id}.{ext}"

    async def put(self, data: bytes, mime: str) -> tuple[str, str]:
        image_id, ext = new_image_id(), EXTENSIONS[mime]
        with _answers("store the image"):
            await self._client.put_object(Bucket=self._bucket, Key=self.key(image_id, ext), Body=data,
                                          ContentType=mime)
        return image_id, ext

    async def open(self, image_id: str, ext: str) -> ObjectBody | None:
        if not valid_name(image_id, ext):
            return None
        try:
            with _answers("read the image"):
                reply = await self._client.get_object(Bucket=self._bucket, Key=self.key(image_id, ext))
        except StorageUnavailable as error:
            if _code(error.__cause__) in _MISSING:
                return None
            raise
        return _S3Body(reply["Body"], int(reply["ContentLength"]))

    async def sweep(self, older_than_s: float, now: float) -> int:
        cutoff = dt.datetime.fromtimestamp(now - older_than_s, dt.UTC)
        doomed: list[dict[str, str]] = []
        with _answers("list images"):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix)
            async for page in pages:
                for item in page.get("Contents", ()):
                    # Only names we make, directly under our prefix: never anyone else's objects.
                    if OBJECT_NAME.fullmatch(item["Key"][len(self._prefix):]) and item["LastModified"] < cutoff:
                        doomed.append({"Key": item["Key"]})
        removed = 0
        for start in range(0, len(doomed), _DELETE_BATCH):
            batch = doomed[start:start + _DELETE_BATCH]
            with _answers("delete expired images"):
                reply = await self._client.delete_objects(Bucket=self._bucket,
                                                          Delete={"Objects": batch, "Quiet": True})
            failed = reply.get("Errors", [])
            if failed:
                log.warning("the image store refused to delete %d objects, e.g. %r", len(failed), failed[0])
            removed += len(batch) - len(failed)
        return removed

    async def check(self) -> None:
        with _answers("answer"):
            await self._client.head_bucket(Bucket=self._bucket)

    async def presigned_url(self, image_id: str, ext: str, expires_in_s: int) -> str:
        """The store's own GET URL for one image, valid `expires_in_s` (SigV4 allows at most 7 days)."""
        url: str = await self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": self.key(image_id, ext)}, ExpiresIn=expires_in_s)
        return url

    async def ensure_lifecycle(self) -> bool:
        """Add (or keep) a rule expiring our prefix after 1 day, beside any rules the bucket already has.

        Returns False, logging why, where the store does not support lifecycle rules or we may not
        set them: the sweeper alone then deletes expired images."""
        rule = {"ID": f"perf-images:{self._prefix}", "Filter": {"Prefix": self._prefix}, "Status": "Enabled",
                "Expiration": {"Days": 1}}
        try:
            try:
                current = await self._client.get_bucket_lifecycle_configuration(Bucket=self._bucket)
                rules = list(current.get("Rules", []))
            except ClientError as error:
                if _code(error) not in _NO_LIFECYCLE:
                    raise
                rules = []
            if rule in rules:
                return True
            rules = [r for r in rules if r.get("ID") != rule["ID"]] + [rule]
            await self._client.put_bucket_lifecycle_configuration(Bucket=self._bucket,
                                                                  LifecycleConfiguration={"Rules": rules})
        except ClientError as error:
            log.warning("no lifecycle rule on s3://%s/%s (%s); the sweeper alone deletes expired images",
                        self._bucket, self._prefix, _code(error))
            return False
        log.info("lifecycle rule on s3://%s/%s: objects expire after 1 day (the sweeper deletes them sooner)",
                 self._bucket, self._prefix)
        return True

    async def close(self) -> None:
        await self._exit_stack.aclose()


class _S3Body:
    def __init__(self, body: Any, length: int) -> None:
        self._body = body
        self._length = length

    @property
    def length(self) -> int:
        return self._length

    async def read(self, n: int) -> bytes:
        # The HTTP stream hands out whatever arrived; gather a full piece so messages are not tiny.
        piece = await self._body.read(n)
        if len(piece) == n or not piece:
            return bytes(piece)
        parts = bytearray(piece)
        while len(parts) < n and (more := await self._body.read(n - len(parts))):
            parts += more
        return bytes(parts)

    async def close(self) -> None:
        self._body.close()


@contextlib.contextmanager
def _answers(doing: str) -> Iterator[None]:
    """A refusal from the store (its credentials, its 5xx, a missing bucket) is an outage to the caller."""
    try:
        yield
    except (ClientError, NoCredentialsError, PartialCredentialsError) as error:
        raise StorageUnavailable(f"the image store could not {doing}: {_code(error) or type(error).__name__}") \
            from error


def _code(error: BaseException | None) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""
