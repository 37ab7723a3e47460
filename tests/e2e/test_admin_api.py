"""The admin API end to end (REST on the gateway, gRPC on the server): who may call it, what it does.

Authentication cases: no token configured (404 / NOT_FOUND), wrong or missing token, the admin token on
/v1/ and an API key on /admin/ (both 401), repeated failures from one address (429). Then the key
lifecycle as automation would run it, checked on /v1/ after each step, the audit log, pagination of
recent generations, and signed image URLs that stop with the caller's.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from perf.admin.v1 import admin_service_pb2 as apb
from perf.admin.v1 import admin_service_pb2_grpc as apb_grpc
from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.stack import Response, Stack, http

TOKEN = "e2e-admin-token-7d41c0ffee5b9a2e"
GEN = "/v1/images/generations"
SMALL = {"model": "dall-e-2", "size": "256x256"}


def admin(stack: Stack, method: str, path: str, body: Any = None, token: str | None = TOKEN) -> Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http(method, stack.base_url + "/admin/v1/" + path, body, headers)


def grpc_admin(stack: Stack, method: str, request: Any, metadata: tuple[tuple[str, str], ...] = ()) -> Any:
    async def call() -> Any:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            return await getattr(apb_grpc.AdminServiceStub(channel), method)(request, metadata=metadata, timeout=10)

    return asyncio.run(call())


def grpc_error(stack: Stack, method: str, request: Any, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        grpc_admin(stack, method, request, metadata)
    return caught.value.code()


def error_type(response: Response, status: int) -> str:
    assert response.status == status, response.body
    return str(response.json()["error"]["type"])


@pytest.fixture(scope="module")
def admin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("admin"), env_overrides={"PERF_ADMIN_TOKEN": TOKEN}).start()
    try:
        yield running
    finally:
        running.stop()


def test_without_a_configured_token_the_admin_api_is_not_found(stack: Stack) -> None:
    for token in (None, TOKEN, stack.first_key or "anything"):
        assert error_type(admin(stack, "GET", "keys", token=token), 404) == "not_found"
        assert error_type(admin(stack, "POST", "keys", {"mode": "test"}, token=token), 404) == "not_found"
    auth = (("authorization", f"Bearer {TOKEN}"),)
    assert grpc_error(stack, "ListKeys", apb.ListKeysRequest(), auth) == grpc.StatusCode.NOT_FOUND
    assert grpc_error(stack, "CreateKey", apb.CreateKeyRequest(mode="test", tier="free")) == grpc.StatusCode.NOT_FOUND


def test_wrong_or_missing_token_is_401(admin_stack: Stack) -> None:
    for token in (None, "", "wrong-token-of-the-right-length", TOKEN + "x", TOKEN[:-1]):
        reply = admin(admin_stack, "GET", "keys", token=token)
        assert error_type(reply, 401) == "authentication_error"
        assert reply.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in reply.body.decode()
    basic = http("GET", admin_stack.base_url + "/admin/v1/keys", headers={"Authorization": f"Basic {TOKEN}"})
    assert error_type(basic, 401) == "authentication_error"
    wrong = (("authorization", "Bearer nope-nope-nope-nope"),)
    assert grpc_error(admin_stack, "ListKeys", apb.ListKeysRequest(), wrong) == grpc.StatusCode.UNAUTHENTICATED
    assert TOKEN not in admin_stack.server_log()


def test_an_api_key_is_refused_on_admin_and_the_admin_token_on_v1(admin_stack: Stack) -> None:
    key = admin_stack.create_key("test")
    assert admin_stack.post(GEN, {"prompt": "the key works", **SMALL}, key=key).status == 200
    assert error_type(admin(admin_stack, "GET", "keys", token=key), 401) == "authentication_error"
    assert error_type(admin(admin_stack, "POST", "keys", {"mode": "live"}, token=key), 401) == "authentication_error"

    assert error_type(admin_stack.post(GEN, {"prompt": "p", **SMALL}, key=TOKEN), 401) == "authentication_error"
    assert error_type(admin_stack.get("/v1/usage", key=TOKEN), 401) == "authentication_error"
    assert error_type(admin_stack.get("/v1/models", key=TOKEN), 401) == "authentication_error"

    async def generate() -> grpc.StatusCode:
        async with grpc.aio.insecure_channel(admin_stack.grpc_target) as channel:
            try:
                await pb_grpc.ImageServiceStub(channel).GenerateImages(
                    pb.GenerateImagesRequest(prompt="p"), metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=10)
            except grpc.aio.AioRpcError as error:
                return error.code()
        return grpc.StatusCode.OK

    assert asyncio.run(generate()) == grpc.StatusCode.UNAUTHENTICATED


def _raw_code(channel: grpc.Channel, path: str, streaming: bool, key: str | None) -> grpc.StatusCode:
    """One call with an empty message (every proto3 message's defaults) and whatever credential is given."""
    metadata = (("authorization", f"Bearer {key}"),) if key else ()
    try:
        if streaming:
            for _ in channel.unary_stream(path)(b"", metadata=metadata, timeout=10):
                pass
        else:
            channel.unary_unary(path)(b"", metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def test_every_method_of_both_services_checks_its_credential(make_stack) -> None:  # type: ignore[no-untyped-def]
    """Each method's guard is chosen once per method name: this walks every name the protos declare, so a
    method added later cannot slip past authentication. (Its own stack: 22 admin failures from one
    address would otherwise trip the failure limiter.)"""
    admin_stack = make_stack(PERF_ADMIN_TOKEN=TOKEN, PERF_ADMIN_MAX_FAILURES_PER_MINUTE="1000")
    key = admin_stack.create_key("test")
    public = {"GetImageContent", "StreamImageContent"}  # the signed URL is the credential: no such image
    with grpc.insecure_channel(admin_stack.grpc_target) as channel:
        for service, module in (("perf.images.v1.ImageService", pb), ("perf.admin.v1.AdminService", apb)):
            for method in module.DESCRIPTOR.services_by_name[service.rsplit(".", 1)[-1]].methods:
                path, streaming = f"/{service}/{method.name}", method.server_streaming
                refused = grpc.StatusCode.NOT_FOUND if method.name in public else grpc.StatusCode.UNAUTHENTICATED
                assert _raw_code(channel, path, streaming, None) == refused, path
                if service.endswith("AdminService"):  # an API key is no admin credential, the token is
                    assert _raw_code(channel, path, streaming, key) == refused, path
                    assert _raw_code(channel, path, streaming, TOKEN) != refused, path
                else:  # and the admin token is no API key
                    assert _raw_code(channel, path, streaming, TOKEN) == refused, path
        assert _raw_code(channel, "/perf.images.v1.ImageService/NoSuchMethod", False, key) == \
            grpc.StatusCode.UNIMPLEMENTED


def test_key_lifecycle_through_the_api_takes_effect_on_v1(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_ADMIN_TOKEN=TOKEN, **backends)
    created = admin(stack, "POST", "keys", {"mode": "test", "tier": "pro", "name": "batch job", "minute_limit": 2,
                                            "monthly_cap_usd": 1.5})
    assert created.status == 201, created.body
    assert created.headers["cache-control"] == "no-store"
    key, secret = created.json()["key"], created.json()["secret"]
    assert (key["mode"], key["tier"], key["name"], key["minute_limit"], key["effective_day_limit"]) == \
           ("test", "pro", "batch job", 2, 1000)
    assert secret.startswith("pk_test_") and key["hint"] == f"{secret[:12]}…{secret[-4:]}"

    used = stack.post(GEN, {"prompt": "first", **SMALL}, key=secret)
    assert used.status == 200 and used.headers["x-ratelimit-limit-images-minute"] == "2"
    shown = admin(stack, "GET", f"keys/{key['id']}").json()
    # A test key's month-to-date is the list price of its usage ($0.016 a 256x256 dall-e-2 image).
    assert shown["month_to_date_usd"] == 0.016 and shown["cap_used_usd"] == 0.016
    assert secret not in admin(stack, "GET", "keys").body.decode()

    updated = admin(stack, "PATCH", f"keys/{key['id']}", {"minute_limit": 5, "name": "nightly batch",
                                                          "monthly_cap_usd": None})
    assert updated.status == 200, updated.body
    assert (updated.json()["minute_limit"], updated.json()["name"], updated.json()["monthly_cap_usd"]) == \
           (5, "nightly batch", None)
    assert stack.post(GEN, {"prompt": "second", **SMALL}, key=secret).headers["x-ratelimit-limit-images-minute"] == "5"
    back = admin(stack, "PATCH", f"keys/{key['id']}", {"minute_limit": None}).json()
    assert (back["minute_limit"], back["effective_minute_limit"]) == (None, 30)  # the pro tier's again

    rotated = admin(stack, "POST", f"keys/{key['id']}/rotate")
    assert rotated.status == 200, rotated.body
    new_secret = rotated.json()["secret"]
    assert new_secret != secret and rotated.json()["key"]["id"] == key["id"]
    assert stack.post(GEN, {"prompt": "old", **SMALL}, key=secret).status == 401
    assert stack.post(GEN, {"prompt": "new", **SMALL}, key=new_secret).status == 200

    revoked = admin(stack, "POST", f"keys/{key['id']}/revoke")
    assert revoked.status == 200 and revoked.json()["revoked"] is not None
    assert stack.post(GEN, {"prompt": "after", **SMALL}, key=new_secret).status == 401
    assert error_type(admin(stack, "POST", f"keys/{key['id']}/revoke"), 404) == "not_found"
    assert error_type(admin(stack, "PATCH", f"keys/{key['id']}", {"name": "x"}), 404) == "not_found"

    audit = admin(stack, "GET", "audit").json()["data"]
    mine = [e for e in audit if e["target"] == key["id"]]
    assert [e["action"] for e in mine] == ["key.revoke", "key.rotate", "key.update", "key.update", "key.create"]
    assert len({e["actor"] for e in mine}) == 1 and mine[0]["actor"].startswith("adm_")
    assert TOKEN not in str(audit) and mine[0]["actor"] not in TOKEN
    assert {e["address"] for e in mine} == {"127.0.0.1"}
    assert mine[2]["detail"] == {"minute_limit": {"from": 5, "to": None}}
    assert "pk_" not in admin(stack, "GET", "audit").body.decode()
    # The audit log pages like the generations do.
    first = admin(stack, "GET", "audit?limit=2").json()
    second = admin(stack, "GET", f"audit?limit=2&cursor={first['next_cursor']}").json()
    assert [e["id"] for e in first["data"] + second["data"]] == [e["id"] for e in audit[:4]]


def test_bad_key_requests_name_their_param(admin_stack: Stack) -> None:
    cases = [({"mode": "staging"}, "mode"), ({"tier": "gold"}, "tier"), ({"minute_limit": 0}, "minute_limit"),
             ({"day_limit": "many"}, "day_limit"), ({"monthly_cap_usd": -1}, "monthly_cap_usd"),
             ({"name": "x" * 201}, "name"), ({"name": "a\u0000b"}, "name"), ({"colour": "red"}, "colour"),
             ({"operator": "yes"}, "operator")]
    for body, param in cases:
        reply = admin(admin_stack, "POST", "keys", body)
        assert error_type(reply, 400) == "invalid_request", body
        assert reply.json()["error"]["param"] == param, body
    assert error_type(admin(admin_stack, "GET", "keys/key_0000000000000000"), 404) == "not_found"
    assert admin(admin_stack, "GET", "usage?start=2026-02-30").json()["error"]["param"] == "start"
    assert admin(admin_stack, "GET", "usage?mode=both").json()["error"]["param"] == "mode"


def test_generations_page_newest_first_with_filters(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_ADMIN_TOKEN=TOKEN, **backends)
    key = admin(stack, "POST", "keys", {"mode": "test", "tier": "enterprise", "name": "pager"}).json()
    # Markup stays text, and line breaks and tabs stay as written (on both stores).
    prompts = [f"lighthouse {i}\n\t<b>at dusk</b>" for i in range(5)]
    for prompt in prompts:
        assert stack.post(GEN, {"prompt": prompt, **SMALL}, key=key["secret"]).status == 200
    assert stack.post(GEN, {"prompt": "refused", "model": "dall-e-2", "size": "9x9"}, key=key["secret"]).status == 400
    other = stack.create_key("test")
    assert stack.post(GEN, {"prompt": "someone else", **SMALL}, key=other).status == 200

    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = admin(stack, "GET", f"generations?key_id={key['key']['id']}&status=ok&limit=2"
                                   + (f"&cursor={cursor}" if cursor else "")).json()
        seen += page["data"]
        assert len(page["data"]) <= 2
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert [g["prompt"] for g in seen] == prompts[::-1]  # newest first, each once, nothing else
    assert all(g["key_name"] == "pager" and g["n_delivered"] == 1 and g["cost_usd"] == 0.016 for g in seen)
    assert {g["kind"] for g in seen} == {"generation"}
    assert all(len(g["images"]) == 1 and g["stored_images"] == 1 for g in seen)
    failed = admin(stack, "GET", f"generations?key_id={key['key']['id']}&status=error").json()["data"]
    assert [(g["prompt"], g["error_type"], g["images"]) for g in failed] == [("refused", "invalid_request", [])]
    everyone = admin(stack, "GET", "generations?model=dall-e-2").json()["data"]
    assert "someone else" in [g["prompt"] for g in everyone] and len(everyone) == 7
    for query, param in (("cursor=bm90LWEtY3Vyc29y", "cursor"), ("limit=500", "limit"), ("limit=x", "limit"),
                         ("status=pending", "status"), ("color=red", "color")):
        reply = admin(stack, "GET", f"generations?{query}")
        assert error_type(reply, 400) == "invalid_request" and reply.json()["error"]["param"] == param, query
    audit_cursor = admin(stack, "GET", "audit?limit=1").json()["next_cursor"]
    assert admin(stack, "GET", f"generations?cursor={audit_cursor}").json()["error"]["param"] == "cursor"


def test_gallery_urls_are_signed_and_stop_when_the_callers_do(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_ADMIN_TOKEN=TOKEN, PERF_IMAGE_TTL_SECONDS="3", PERF_SWEEP_GRACE_SECONDS="60")
    key = stack.create_key("test")
    made = stack.post(GEN, {"prompt": "expiring", **SMALL}, key=key).json()
    inline = stack.post(GEN, {"prompt": "inline", **SMALL, "response_format": "b64_json"}, key=key)
    assert inline.status == 200
    rows = {g["prompt"]: g for g in admin(stack, "GET", "generations").json()["data"]}
    image = rows["expiring"]["images"][0]
    caller_expires = int(made["data"][0]["url"].split("/")[-2])
    assert image["expires"] - caller_expires in (0, 1, 2)  # the row is written just after the URL is signed
    assert image["expires"] == int(image["url"].split("/")[-2]) == rows["expiring"]["created"] + 3
    fetched = stack.get(image["url"])
    assert fetched.status == 200 and fetched.headers["content-type"] == "image/png"
    assert fetched.body == stack.get(made["data"][0]["url"]).body
    tampered = image["url"].replace(str(image["expires"]), str(image["expires"] + 100))
    assert stack.get(tampered).status == 403
    assert (rows["inline"]["images"], rows["inline"]["stored_images"]) == ([], 0)

    time.sleep(max(0.0, image["expires"] - time.time()) + 0.2)
    later = {g["prompt"]: g for g in admin(stack, "GET", "generations").json()["data"]}["expiring"]
    assert (later["images"], later["stored_images"]) == ([], 1)
    assert stack.get(image["url"]).status == 404


def test_failed_sign_ins_are_limited_per_address(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_ADMIN_TOKEN=TOKEN, PERF_ADMIN_MAX_FAILURES_PER_MINUTE="3")
    for _ in range(3):
        assert error_type(admin(stack, "GET", "keys", token="guess-guess-guess-guess"), 401) == "authentication_error"
    locked = admin(stack, "GET", "keys", token="guess-guess-guess-guess")
    assert error_type(locked, 429) == "rate_limit_exceeded"
    assert 1 <= locked.json()["error"]["retry_after"] <= 60
    assert locked.headers["retry-after"] == str(locked.json()["error"]["retry_after"])
    # Even the right token learns nothing from a locked-out address...
    assert error_type(admin(stack, "GET", "keys"), 429) == "rate_limit_exceeded"
    assert error_type(admin(stack, "GET", "keys", token=None), 429) == "rate_limit_exceeded"
    # ...while another address (as a gateway reports it) is not affected.
    elsewhere = (("authorization", f"Bearer {TOKEN}"), ("x-perf-client-address", "192.0.2.7"))
    assert len(grpc_admin(stack, "ListKeys", apb.ListKeysRequest(), elsewhere).data) >= 1


def test_usage_and_provider_status_with_a_live_upstream(tmp_path, backends) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.upstreams import Upstreams

    with Upstreams(("openai",)) as upstreams:
        stack = Stack(tmp_path, env_overrides={**upstreams.env(), **backends, "PERF_ADMIN_TOKEN": TOKEN}).start()
        try:
            live = admin(stack, "POST", "keys", {"mode": "live", "tier": "enterprise", "name": "shop"}).json()
            test = admin(stack, "POST", "keys", {"mode": "test", "tier": "enterprise", "name": "ci"}).json()
            for _ in range(2):
                assert stack.post(GEN, {"prompt": "live", "model": "dall-e-3"}, key=live["secret"]).status == 200
            upstreams["openai"].knobs.fail_before_charge_next = 1
            assert stack.post(GEN, {"prompt": "fails", "model": "dall-e-3"}, key=live["secret"]).status == 502
            assert stack.post(GEN, {"prompt": "test", **SMALL}, key=test["secret"]).status == 200

            usage = admin(stack, "GET", "usage").json()
            per_key = {k["key_id"]: k for k in usage["keys"]}
            shop = per_key[live["key"]["id"]]
            assert (shop["name"], shop["requests"], shop["failed_requests"], shop["billed_usd"]) == ("shop", 3, 1, 0.08)
            assert shop["upstream_cost_usd"] > 0 and shop["margin_usd"] == pytest.approx(0.08 - shop["upstream_cost_usd"])
            assert per_key[test["key"]["id"]]["billed_usd"] == 0 and per_key[test["key"]["id"]]["cost_usd"] == 0.016
            assert usage["totals"]["requests"] == 4 and usage["totals"]["billed_usd"] == 0.08
            assert usage["errors"] == [{"type": "upstream_error", "requests": 1}]
            # The same numbers as the ledger per key: what /v1/usage tells the key itself.
            own = stack.get("/v1/usage", key=live["secret"]).json()["totals"]
            assert {k: shop[k] for k in own} == own
            assert admin(stack, "GET", "usage?mode=test").json()["totals"]["requests"] == 1

            providers = {p["id"]: p for p in admin(stack, "GET", "providers").json()["data"]}
            openai = providers["openai"]
            assert (openai["configured"], openai["recent_requests"], openai["recent_errors"]) == (True, 3, 1)
            assert openai["recent_errors_by_type"] == [{"type": "upstream_error", "requests": 1}]
            assert openai["breaker_state"] == "closed" and "dall-e-3" in openai["models"]
            assert providers["stability"]["configured"] is False and providers["stability"]["env_hint"]
        finally:
            stack.stop()


def test_catalog_shows_every_model_with_its_serving_deployment(admin_stack: Stack) -> None:
    catalog = admin(admin_stack, "GET", "models").json()
    public = admin_stack.get("/v1/models", key=admin_stack.create_key("test")).json()["data"]
    assert [e["model"] for e in catalog["data"]] == public  # the same description as /v1/models
    for entry in catalog["data"]:
        states = [d["state"] for d in entry["deployments"]]
        if entry["model"]["lifecycle"]["status"] == "retired":
            assert "serving" not in states and entry["warning"]
        else:
            assert states.count("serving") + states.count("deprecated") == 1, entry
            served = entry["model"]["lifecycle"]["served_by"]
            serving = next(d for d in entry["deployments"] if d["state"] in ("serving", "deprecated"))
            assert (serving["provider"], serving["upstream_model"]) == (served["provider"], served["upstream_model"])
