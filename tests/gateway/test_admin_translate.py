"""The admin API's JSON ⇄ proto translations (gateway/admin_translate.py): types checked, params named."""
from __future__ import annotations

import orjson
import pytest

from gateway.admin_translate import (
    create_key_request,
    generations_request,
    key_response,
    update_key_request,
    usage_request,
)
from gateway.translate import BadRequest
from perf.admin.v1 import admin_service_pb2 as apb


def test_create_defaults_to_a_free_test_key() -> None:
    request = create_key_request({})
    assert (request.mode, request.tier, request.HasField("minute_limit"), request.HasField("monthly_cap_usd")) == \
           ("test", "free", False, False)
    full = create_key_request({"mode": "live", "tier": "pro", "name": "n", "minute_limit": 9, "day_limit": 90,
                               "monthly_cap_usd": 12, "operator": True})
    assert (full.minute_limit, full.day_limit, full.monthly_cap_usd, full.operator) == (9, 90, 12.0, True)


@pytest.mark.parametrize(("body", "param"), [
    ({"mode": 1}, "mode"), ({"minute_limit": 1.5}, "minute_limit"), ({"minute_limit": True}, "minute_limit"),
    ({"day_limit": 2**63}, "day_limit"), ({"monthly_cap_usd": "5"}, "monthly_cap_usd"), ({"operator": 1}, "operator"),
    ({"secret": "pk_x"}, "secret"),
])
def test_create_refusals_name_the_param(body: dict[str, object], param: str) -> None:
    with pytest.raises(BadRequest) as refused:
        create_key_request(body)
    assert refused.value.param == param


def test_update_tells_absent_from_null() -> None:
    untouched = update_key_request("key_1", {})
    assert not (untouched.HasField("name") or untouched.HasField("minute_limit") or untouched.clear_minute_limit
                or untouched.clear_monthly_cap)
    cleared = update_key_request("key_1", {"minute_limit": None, "monthly_cap_usd": None, "day_limit": 7})
    assert (cleared.clear_minute_limit, cleared.clear_monthly_cap, cleared.day_limit) == (True, True, 7)
    with pytest.raises(BadRequest) as refused:
        update_key_request("key_1", {"tier": "pro"})
    assert refused.value.param == "tier"


def test_query_params_are_checked() -> None:
    assert usage_request({"start": "2026-01-01", "mode": "live"}).mode == "live"
    assert generations_request({"limit": "25", "cursor": "abc"}).limit == 25
    for query, param in (({"limit": "-1"}, "limit"), ({"limit": "1e3"}, "limit"), ({"limit": "٣"}, "limit"),
                         ({"page": "2"}, "page")):
        with pytest.raises(BadRequest) as refused:
            generations_request(query)
        assert refused.value.param == param


def test_key_json_uses_null_for_unset_values() -> None:
    body = orjson.loads(key_response(apb.Key(id="key_1", mode="test", tier="free", effective_minute_limit=5,
                                             effective_day_limit=50)))
    assert (body["minute_limit"], body["monthly_cap_usd"], body["revoked"], body["cap_used_usd"]) == (None,) * 4
    capped = apb.Key(id="key_2", monthly_cap_usd=0.0, cap_used_usd=0.0)
    assert orjson.loads(key_response(capped))["monthly_cap_usd"] == 0.0  # a zero cap is a cap, not "none"
