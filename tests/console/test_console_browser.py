"""The operator console in headless Chromium against the real gateway and server (tests/stack.py).

Each test signs in as a person would and checks what the page shows against what the API and the
ledger (the SQLite file itself) say. Screenshots of every page go to the folder the `screenshots`
fixture prints. Skipped, with the reason, where chromium or chromium-driver is not installed.
"""
from __future__ import annotations

import csv
import io
import sqlite3

from tests.console.pages import Console
from tests.stack import Stack

GEN = "/v1/images/generations"
SCRIPT_PROMPT = 'a fox <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2"> in snow'


def _number(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").strip())


def _shows_usd(text: str, micros: int) -> bool:
    """True when `text` is `micros` as the console writes money (format.js usd: 6, 4 or 2 decimals)."""
    value = micros / 1e6
    digits = 6 if 0 < abs(value) < 0.01 else 4 if abs(value) < 100 else 2
    decimals = text.rpartition(".")[2]
    return len(decimals) == digits and abs(_number(text) - value) <= 0.5 * 10**-digits + 1e-12


def test_sign_in_refuses_a_wrong_token_then_accepts_the_right_one(console: Console) -> None:
    console.sign_in("not-the-admin-token-at-all")
    console.text_becomes("#sign-in-error", lambda text: text == "That token was not accepted.")
    assert not console.visible("#nav")
    console.sign_in()
    console.wait(lambda: console.visible("#overview-body .cards"))
    # Kept in this tab's sessionStorage only: never in the URL, never in a cookie or localStorage.
    assert console.script("return sessionStorage.getItem('perf.console.admin-token')") == "console-test-admin-token-5f0c2a9e"
    assert "token" not in console.driver.current_url
    assert console.script("return document.cookie + JSON.stringify(localStorage)") == "{}"
    assert console.csp_violations() == [] and console.stray_values() == []


def test_key_created_in_the_ui_works_on_the_api_until_revoked_in_the_ui(console: Console) -> None:
    console.open("keys", "#create-key")
    console.css("#create-name").send_keys("<b>billing</b> app")
    console.css("#create-minute").send_keys("40")
    console.css("#create-cap").send_keys("12.5")
    console.css("#create-submit").click()
    secret = console.text("#new-secret")
    assert secret.startswith("pk_test_") and len(secret) == 48
    assert console.css("#copy-secret").is_displayed()
    console.shot("keys")

    reply = console.stack.post(GEN, {"prompt": "made with a key from the console", "model": "dall-e-2",
                                     "size": "256x256"}, key=secret)
    assert reply.status == 200, reply.body

    key = next(k for k in console.admin("GET", "keys").json()["data"] if k["hint"] == f"{secret[:12]}…{secret[-4:]}")
    assert (key["name"], key["minute_limit"], key["monthly_cap_usd"]) == ("<b>billing</b> app", 40, 12.5)
    row = console.wait(lambda: console.visible(f"tr[data-key-id='{key['id']}']"))
    assert row.find_element("css selector", ".key-name").text == "<b>billing</b> app"  # the name as text
    assert row.find_elements("css selector", "b") == []

    # The secret is shown once: after "Done" and a reload it is nowhere on the page.
    console.css("#secret-done").click()
    console.open("keys", f"tr[data-key-id='{key['id']}']")
    assert secret not in console.driver.page_source

    # Edit: a new minute limit, the cap removed (an empty field means none).
    console.css(f"tr[data-key-id='{key['id']}'] button.edit").click()
    editor = console.wait(lambda: console.visible("form.edit-key"))
    minute = editor.find_element("css selector", ".edit-minute")
    minute.clear()
    minute.send_keys("25")
    editor.find_element("css selector", ".edit-cap").clear()
    editor.find_element("css selector", ".edit-save").click()
    console.wait(lambda: "25" in console.css(f"tr[data-key-id='{key['id']}']").text)
    edited = console.admin("GET", f"keys/{key['id']}").json()
    assert (edited["minute_limit"], edited["monthly_cap_usd"]) == (25, None)
    limited = console.stack.post(GEN, {"prompt": "after the edit", "model": "dall-e-2", "size": "256x256"},
                                 key=secret)
    assert limited.headers["x-ratelimit-limit-images-minute"] == "25"

    # Rotate: a new secret shown once; the old one stops at once.
    console.css(f"tr[data-key-id='{key['id']}'] button.rotate").click()
    console.driver.switch_to.alert.accept()
    rotated = console.wait(lambda: (s := console.visible("#new-secret")) and s.text != secret and s.text)
    assert console.stack.post(GEN, {"prompt": "old secret", "model": "dall-e-2", "size": "256x256"},
                              key=secret).status == 401
    assert console.stack.post(GEN, {"prompt": "new secret", "model": "dall-e-2", "size": "256x256"},
                              key=rotated).status == 200
    secret = rotated

    console.css(f"tr[data-key-id='{key['id']}'] button.revoke").click()
    console.driver.switch_to.alert.accept()
    console.text_becomes("#key-notices", lambda text: text == f"Revoked {key['id']}.")
    refused = console.stack.post(GEN, {"prompt": "after revocation", "model": "dall-e-2", "size": "256x256"},
                                 key=secret)
    assert refused.status == 401 and refused.json()["error"]["type"] == "authentication_error"
    actions = [(e["action"], e["target"]) for e in console.admin("GET", "audit").json()["data"]]
    assert [a for a in actions if a[1] == key["id"]] == [("key.revoke", key["id"]), ("key.rotate", key["id"]),
                                                         ("key.update", key["id"]), ("key.create", key["id"])]
    assert console.csp_violations() == [] and console.stray_values() == []


def test_playground_generates_with_a_test_key_and_the_gallery_shows_the_prompt_as_text(console: Console) -> None:
    console.open("playground", "#playground-create-key")
    console.css("#playground-create-key").click()
    console.text_becomes("#playground-key-status", lambda text: text.endswith("(test: sandbox, never billed)"))
    model = console.wait(lambda: console.visible("#playground-model"))
    from selenium.webdriver.support.ui import Select

    Select(model).select_by_value("dall-e-2")
    Select(console.wait(lambda: console.visible("#playground-size"))).select_by_value("256x256")
    n = console.css("#playground-n")
    n.clear()
    n.send_keys("2")
    console.css("#playground-prompt").send_keys(SCRIPT_PROMPT)
    # dall-e-2 256x256 is $0.016 an image (server/catalog/models.toml), so two are $0.032 before sending.
    console.text_becomes("#playground-price", lambda text: text == "Price: $0.0320 for 2 image(s)")
    console.css("#playground-generate").click()
    images = console.wait(lambda: [i for i in console.all("#playground-images img") if console.image_loaded(i)])
    assert len(images) == 2
    perf = console.json_of("#playground-perf")["perf"]
    assert perf["cost_usd"] == 0.032 and perf["size"] == "256x256" and perf["request_id"].startswith("req_img_")
    console.shot("playground")

    console.open("gallery", "#gallery-grid .tile")
    tile = console.wait(lambda: next((t for t in console.all("#gallery-grid .tile")
                                      if t.find_element("css selector", ".prompt").text == SCRIPT_PROMPT), None))
    thumb = tile.find_element("css selector", "img.thumb")
    console.wait(lambda: console.image_loaded(thumb))
    assert "dall-e-2 · 256x256 · $0.0320" in tile.text and "console playground" in tile.text
    # The markup in the prompt is characters on the page, never elements, and never ran.
    assert console.all("#gallery-grid script") == [] and console.all("#gallery-grid .prompt img") == []
    assert console.script("return window.__pwned === undefined")
    console.shot("gallery")
    tile.click()
    detail = console.wait(lambda: console.visible("#generation-detail"))
    assert detail.find_element("css selector", ".prompt").text == SCRIPT_PROMPT
    full = detail.find_elements("css selector", "img.full")
    assert len(full) == 2 and console.wait(lambda: all(console.image_loaded(i) for i in full))
    shown = console.json_of("#generation-detail pre.perf")["perf"]
    assert shown["request_id"] == perf["request_id"] and shown["cost_usd"] == 0.032
    console.shot("gallery-detail")
    assert console.script("return window.__pwned === undefined")
    assert console.csp_violations() == [] and console.stray_values() == []


def test_overview_numbers_equal_the_ledger(console: Console) -> None:
    stack = console.stack
    limited = console.admin("POST", "keys", {"mode": "test", "tier": "free", "minute_limit": 1}).json()["secret"]
    assert stack.post(GEN, {"prompt": "one", "model": "dall-e-2", "size": "256x256"}, key=limited).status == 200
    assert stack.post(GEN, {"prompt": "two", "model": "dall-e-2", "size": "256x256"}, key=limited).status == 429
    assert stack.post(GEN, {"prompt": "bad size", "model": "dall-e-3", "size": "7x7"}, key=limited).status == 400
    live = console.admin("POST", "keys", {"mode": "live", "tier": "pro", "name": "shop"}).json()["secret"]
    for quality in ("standard", "hd"):  # billed $0.04 and $0.08; the fake upstream charges its own price
        assert stack.post(GEN, {"prompt": "billed", "model": "dall-e-3", "quality": quality}, key=live).status == 200

    console.open("overview", "#total-requests")
    shown = {name: console.text(f"#total-{name} .value")
             for name in ("requests", "failed", "images", "billed", "upstream", "list-price", "rate-limited")}
    with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
        requests, failed, images, cost, billed, upstream, limited_rows = db.execute(
            "SELECT count(*), sum(status NOT IN ('ok', 'replayed')), sum(n_delivered), sum(cost_micros), "
            "sum(billed_micros), sum(upstream_cost_micros), sum(error_type = 'rate_limit_exceeded') "
            "FROM usage_ledger").fetchone()
    assert requests >= 7 and limited_rows >= 1 and failed >= 2 and billed >= 120_000 and upstream > 0
    assert [_number(shown[n]) for n in ("requests", "failed", "images", "rate-limited")] == \
           [requests, failed, images, limited_rows]
    assert _shows_usd(shown["list-price"], cost) and _shows_usd(shown["billed"], billed)
    assert _shows_usd(shown["upstream"], upstream)
    api = console.admin("GET", "usage").json()
    assert api["totals"]["requests"] == requests and api["rate_limited_requests"] == limited_rows
    errors = {row.find_elements("css selector", "td")[0].text: int(row.find_elements("css selector", "td")[1].text)
              for row in console.all("#errors-table tbody tr")}
    assert errors == {e["type"]: e["requests"] for e in api["errors"]}
    assert errors["rate_limit_exceeded"] == limited_rows and errors["invalid_request"] >= 1
    assert len(console.all("#chart-volume canvas")) >= 1 and len(console.all("#chart-money canvas")) >= 1
    console.shot("overview")
    assert console.csp_violations() == [] and console.stray_values() == []


def test_usage_page_and_its_csv_match_the_api(console: Console) -> None:
    console.open("usage", "#csv-download")
    api = console.admin("GET", "usage").json()
    saved = console.download(console.css("#csv-download"), f"usage-{api['start']}-{api['end']}.csv")
    rows = list(csv.DictReader(io.StringIO(saved)))
    assert len(rows) == len(api["key_models"]) > 0
    for row, expected in zip(rows, api["key_models"]):
        assert (row["key_id"], row["model"], int(row["requests"]), int(row["images"])) == \
               (expected["key_id"], expected["model"], expected["requests"], expected["images"])
        assert float(row["cost_usd"]) == round(expected["cost_usd"], 6)
    assert len(console.all("#usage-keys tbody tr")) == len(api["keys"])
    console.shot("usage")
    assert console.csp_violations() == [] and console.stray_values() == []


def test_models_page_shows_capabilities_prices_and_lifecycle(console: Console) -> None:
    console.open("models", "#models-catalog")
    catalog = console.admin("GET", "models").json()
    assert len(console.all("#models-catalog tbody tr")) == len(catalog["data"])
    page = console.css("#models-catalog").text
    assert "dall-e-3" in page and "1024x1024 hd: $0.0800" in page
    for entry in catalog["data"]:  # each model's output formats, as /v1/models states them
        formats = entry["model"]["capabilities"]["output_formats"]
        if formats:
            assert "formats: " + ", ".join(formats) in page
    warned = [e for e in catalog["data"] if e["warning"]]
    if warned:  # depends on the catalog's dates; when there are any, they are on the page
        assert warned[0]["warning"] in console.text("#lifecycle-warnings")
    providers = console.css("#providers-table").text
    assert "closed" in providers  # every circuit closed: nothing has failed on this stack
    console.shot("models")
    assert console.csp_violations() == [] and console.stray_values() == []


def test_console_is_served_with_strict_headers_and_cached_by_content(console: Console) -> None:
    stack = console.stack
    index = stack.get("/console/")
    policy = index.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                      f"img-src 'self' {stack.base_url}"):
        assert directive in policy
    assert "unsafe" not in policy
    assert index.headers["x-frame-options"] == "DENY" and index.headers["x-content-type-options"] == "nosniff"
    assert index.headers["cache-control"] == "no-cache"
    asset = next(part.split('"')[0] for part in index.body.decode().split('src="')[1:] if "js/app.js" in part)
    served = stack.get(asset)
    assert served.status == 200 and "immutable" in served.headers["cache-control"]
    assert served.headers["content-type"].startswith("text/javascript")
    build = asset.split("/")[3]
    assert stack.get(asset.replace(build, "0" * len(build))).status == 404
    assert index.headers["etag"].strip('"') == build
    moved = stack.get("/console")
    assert moved.status == 308 and moved.headers["location"] == "/console/"
    assert stack.get("/console/assets/" + build + "/../index.html").status == 404
    # No inline script anywhere in the page: every script has a src on our own origin.
    assert "<script>" not in index.body.decode() and "onload=" not in index.body.decode()


def test_without_an_admin_token_the_console_says_how_to_enable_it(console: Console, stack: Stack) -> None:
    # The session's shared stack runs without PERF_ADMIN_TOKEN (another origin: its own sessionStorage).
    console.driver.get(stack.base_url + "/console/")
    field = console.wait(lambda: console.visible("#token"))
    field.send_keys("any-token-at-all-here")
    console.css("#sign-in-form button").click()
    console.text_becomes("#sign-in-error", lambda text: text == "The admin API is not enabled on this server: "
                                                                 "set PERF_ADMIN_TOKEN and restart it.")
    assert not console.visible("#nav") and console.csp_violations() == []
