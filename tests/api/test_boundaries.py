"""Regression tests of what tests/api/test_schemathesis.py found: values the database cannot
hold (integers beyond PostgreSQL `integer` / `bigint`, NUL characters in text, moments that
overflow once converted to UTC) are a 422 `invalid` at the boundary, not a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rules_service.webhooks.normalize import first_time
from rules_service.webhooks.signatures import sign
from tests.api.conftest import SHOPIFY_SECRET, Api

TOO_BIG = 2**31  # one past PostgreSQL integer
NUL = "a\x00b"


def _invalid(response: Any, *where: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid"
    locations = [tuple(item["loc"]) for item in body["details"]]
    assert any(loc[-1] in where for loc in locations), locations


def test_key_name_with_nul_is_invalid(rules_api: Api) -> None:
    # was: POST /v1/keys {"roles": ["admin"], "name": "Ä\u0000"} -> 500 (psycopg DataError)
    answer = rules_api.request("POST", "/v1/keys", json={"name": "Ä\x00", "roles": ["admin"]})
    _invalid(answer, "name")
    ok = rules_api.request("POST", "/v1/keys", json={"name": "Ä-ops", "roles": ["ops"]})
    assert ok.status_code == 201


@pytest.mark.parametrize("path", [
    # was: GET /v1/rulesets/<name>/diff?from=12663657627598004&to=30629052118 -> 500
    f"/v1/rulesets/returns/diff?from=1&to={TOO_BIG}",
    f"/v1/rulesets/returns/diff?from={TOO_BIG}&to=1",
    f"/v1/rulesets/returns/versions/{TOO_BIG}",
    f"/v1/rulesets/returns/versions/{TOO_BIG}/workbook",
    # was: GET /v1/runs?version=-289922754141696 -> 500 (integer out of range)
    f"/v1/runs?version={TOO_BIG}",
    "/v1/runs?version=-289922754141696",
    f"/v1/audit?version={TOO_BIG}",
    f"/v1/audit?after={2**63}",
])
def test_integers_beyond_the_database_are_invalid(rules_api: Api, path: str) -> None:
    _invalid(rules_api.request("GET", path), "from", "to", "version", "after")


@pytest.mark.parametrize("path, where", [
    ("/v1/rulesets/a%00b", "name"),
    ("/v1/rulesets/a%00b/versions", "name"),
    ("/v1/runs/a%00b", "run_id"),
    ("/v1/runs?order_id=a%00b", "order_id"),
    ("/v1/runs?type=a%00b", "type"),
    ("/v1/runs?cursor=a%00b", "cursor"),
    ("/v1/audit?actor=a%00b", "actor"),
    ("/v1/audit?kind_prefix=a%00b", "kind_prefix"),
])
def test_nul_in_text_parameters_is_invalid(rules_api: Api, path: str, where: str) -> None:
    _invalid(rules_api.request("GET", path), where)


def test_approval_comment_with_nul_is_invalid(rules_api: Api) -> None:
    # was: POST /v1/rulesets/r/versions/1/approve {"comment": "a\u0000b"} -> 500
    version = rules_api.known["version"][-1]
    answer = rules_api.request("POST", f"/v1/rulesets/returns/versions/{version}/approve",
                               json={"comment": NUL})
    _invalid(answer, "comment")


@pytest.mark.parametrize("query", [
    # was: GET /v1/runs?until=1195-11-09T21:26:23-06:57 style moments near datetime.min/max
    "until=0001-01-01T00:30:00%2B01:00",
    "since=9999-12-31T23:00:00-05:00",
])
@pytest.mark.parametrize("path", ["/v1/runs", "/v1/audit"])
def test_moments_out_of_range_in_utc_are_invalid(rules_api: Api, path: str, query: str) -> None:
    _invalid(rules_api.request("GET", f"{path}?{query}"), "since", "until")


def test_moments_in_range_still_filter(rules_api: Api) -> None:
    runs = rules_api.request("GET", "/v1/runs?since=2026-01-01T00:00:00%2B09:00&until=2027-01-01")
    assert runs.status_code == 200 and runs.json()["runs"]
    none = rules_api.request("GET", "/v1/runs?until=0001-01-02T00:00:00%2B01:00")
    assert none.status_code == 200 and none.json()["runs"] == []
    entries = rules_api.request("GET", "/v1/audit?since=2000-01-01T00:00:00Z&limit=1")
    assert entries.status_code == 200 and entries.json()["entries"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/actions/a%00b"),
    ("POST", "/v1/actions/a%00b/approve"),
    ("POST", "/v1/dead-letters/a%00b/retry"),
    ("GET", "/v1/actions?order_id=a%00b"),
    ("GET", "/v1/dead-letters?after=a%00b"),
])
def test_action_nul_parameters_are_invalid(actions_api: Api, method: str, path: str) -> None:
    _invalid(actions_api.request(method, path), "action_id", "order_id", "after")


def test_action_comment_with_nul_is_invalid(actions_api: Api) -> None:
    action_id = actions_api.known["action_id"][0]
    answer = actions_api.request("POST", f"/v1/actions/{action_id}/approve",
                                 json={"comment": NUL})
    _invalid(answer, "comment")


def test_shopify_time_out_of_range_in_utc_counts_as_no_time(rules_api: Api) -> None:
    # was: a signed orders/create delivery of `{}` with X-Shopify-Triggered-At
    # 0001-01-01T00:00:00+01:00 -> 500 (OverflowError in events.keys.utc via first_time)
    assert first_time("0001-01-01T00:00:00+01:00", "2026-11-20T10:00:00Z") == \
        datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert first_time("9999-12-31T23:59:59-05:00") is None
    body = b"{}"
    answer = rules_api.client.post("/v1/webhooks/shopify", data=body, headers={
        "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body), "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-out-of-range",
        "X-Shopify-Triggered-At": "0001-01-01T00:00:00+01:00",
        "Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize("moment", ["0001-03-01T01:00:00Z", "9999-12-31T23:00:00-05:00",
                                    "0001-01-01T00:30:00+01:00"])
def test_event_times_at_the_ends_of_time_are_invalid(rules_api: Api, moment: str) -> None:
    # was: POST /v1/decide {"id": "0", "type": "0", "occurred_at": "0001-03-01T01:00:00Z"} -> 500
    for path in ("/v1/events", "/v1/decide"):
        body = {"id": "edge", "source": "x", "type": "order.placed", "occurred_at": moment}
        _invalid(rules_api.request("POST", path, json=body), "occurred_at")


def test_event_data_with_nul_is_invalid(rules_api: Api) -> None:
    body = {"id": "nul", "type": "order.placed", "occurred_at": "2026-11-20T10:00:00Z",
            "data": {"order": {"note": NUL}}}
    _invalid(rules_api.request("POST", "/v1/events", json=body), "data")
