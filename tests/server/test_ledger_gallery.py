"""What the ledger keeps for the gallery: the prompt, storable, and the stored image names from the URLs."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from perf.images.v1 import image_service_pb2 as pb
from server.accounting.ledger import LedgerDraft
from server.admin.generations import generation, stored_images
from server.database.admin_records import GenerationQuery
from server.database.records import ApiKey, LedgerEntry
from server.database.sqlite import SqliteStore
from server.storage.signing import UrlSigner

KEY = ApiKey(id="key_g", mode="test", tier="free", name="gallery", hint="pk_test_…", created_at=0, revoked_at=None)
SIGNER = UrlSigner(b"k" * 32, 3600, "http://127.0.0.1:8080")


def draft(prompt: str) -> LedgerDraft:
    return LedgerDraft.start("req_img_" + "a" * 24, KEY, "generation", pb.GenerateImagesRequest(prompt=prompt), "dall-e-3")


def test_prompt_is_kept_storable_and_cut() -> None:
    assert draft("a fox\x00 in snow").entry(5).prompt == "a fox\ufffd in snow"
    assert draft("x" * 5000).entry(5).prompt == "x" * 4000  # what a refused over-long prompt leaves


def test_a_prompt_keeps_its_line_breaks_and_tabs_and_loses_every_other_control_character() -> None:
    assert draft("a fox\n\tin snow\r\nat dawn").entry(5).prompt == "a fox\n\tin snow\r\nat dawn"
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        if chr(code) not in "\t\n\r":
            assert draft(f"a{chr(code)}b").entry(5).prompt == "a\ufffdb", hex(code)


def test_stored_images_come_from_the_signed_urls_and_b64_stores_none() -> None:
    first, second = "img_" + "1" * 32, "img_" + "2" * 32
    urls = [pb.Image(url=SIGNER.url(first, "png", 1_000)), pb.Image(url=SIGNER.url(second, "webp", 1_000))]
    made = draft("p")
    made.stored(urls)
    assert json.loads(made.entry(5).images) == [f"{first}.png", f"{second}.webp"]
    presigned = draft("p")
    presigned.stored([pb.Image(url=f"https://bucket.example/perf/{first}.jpg?X-Amz-Signature=abc")])
    assert json.loads(presigned.entry(5).images) == [f"{first}.jpg"]
    inline = draft("p")
    inline.stored([pb.Image(data=b"\x89PNG")])
    assert inline.entry(5).images == ""


def test_only_well_formed_names_are_ever_signed() -> None:
    good = "img_" + "3" * 32 + ".png"
    raw = json.dumps([good, "../../etc/passwd", "img_short.png", 7, "img_" + "4" * 32 + ".PNG"])
    assert stored_images(raw) == [good]
    assert stored_images("not json") == [] and stored_images('{"a": 1}') == [] and stored_images("") == []


def test_a_row_round_trips_through_the_store_and_signs_until_its_expiry(tmp_path: Path) -> None:
    made = draft("round trip")
    made.stored([pb.Image(url=SIGNER.url("img_" + "5" * 32, "png", 1_000))])
    entry: LedgerEntry = made.entry(7, now=1_796_000_000)

    async def scenario() -> list:  # type: ignore[type-arg]
        store = SqliteStore(tmp_path / "perf.sqlite3")
        try:
            await store.insert_key(KEY, "digest")
            await store.record(entry)
            return await store.list_generations(GenerationQuery(entry.day, entry.day, 10))
        finally:
            await store.close()

    [row] = asyncio.run(scenario())
    assert (row.prompt, row.key_name, row.images) == ("round trip", "gallery", entry.images)
    valid = generation(row, SIGNER, now=entry.created_at + 3599)
    assert valid.images[0].expires == entry.created_at + 3600
    SIGNER.verify("img_" + "5" * 32, "png", valid.images[0].expires, valid.images[0].url.split("/")[-1][:-4],
                  entry.created_at + 3599)
    assert generation(row, SIGNER, now=entry.created_at + 3600).images == []
