"""The official openai Node SDK (tests/node, pinned in its package-lock.json) against the gateway: an
edit with several images and a mask sent as Node sends multipart (files first, chunked), a streamed
generation, and a refusal raised as the SDK's typed error."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.stack import Stack, http

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def node_skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm; `make install` then installs the SDK)"
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        return "the Node SDK is not installed: run `make install` (npm ci --prefix tests/node)"
    return None


@pytest.mark.skipif(node_skip_reason() is not None, reason=node_skip_reason() or "")
def test_the_node_sdk_edits_streams_and_gets_typed_errors(stack: Stack, test_key: str, tmp_path: Path) -> None:
    Image.new("RGB", (512, 512), (40, 90, 160)).save(tmp_path / "in.png")
    mask = Image.new("RGBA", (512, 512), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 256, 512))
    mask.save(tmp_path / "mask.png")
    done = subprocess.run(["node", str(NODE_DIR / "images.mjs"), stack.base_url + "/v1", test_key,
                           str(tmp_path / "in.png"), str(tmp_path / "mask.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    results = {line["call"]: line for line in map(json.loads, done.stdout.splitlines())}

    edit = results["edit"]
    assert (edit["size"], edit["output_format"], edit["perf"]["size"]) == ("1024x1024", "webp", "1024x1024")
    stored = http("GET", edit["url"])
    assert stored.status == 200 and stored.body[8:12] == b"WEBP"

    events = results["stream"]["events"]
    assert [(e["type"], e["index"]) for e in events] == [("image_generation.partial_image", 0),
                                                          ("image_generation.partial_image", 1),
                                                          ("image_generation.completed", None)]
    assert events[-1]["perf"]["cost_usd"] > 0 and all(e["bytes"] > 1000 for e in events)

    bad = results["bad"]
    assert (bad["status"], bad["param"], bad["type"]) == (400, "image", "invalid_request")
    assert bad["request_id"].startswith("req_img_")
