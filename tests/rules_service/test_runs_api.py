"""GET /v1/runs (filters, paging) and GET /v1/runs/{id}."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.rules_service.test_events_support import Harness, event, harness


@pytest.fixture
def h(pg_url: str) -> Iterator[Harness]:
    hx = harness(pg_url)
    with hx.client:
        yield hx
    hx.factory.kw["bind"].dispose()


def _runs(h: Harness, **params: object) -> dict:
    answer = h.client.get("/v1/runs", params=params, headers=h.headers(h.auditor_key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _seed(h: Harness) -> list[dict]:
    bodies = [
        event(
            "a",
            "cancel.requested",
            "2026-11-01T00:00:00Z",
            order={"id": "o-1"},
            customer={"id": "c-1"},
        ),
        event(
            "b",
            "cancel.requested",
            "2026-11-02T00:00:00Z",
            order={"id": "o-2"},
            customer={"id": "c-1"},
        ),
        event(
            "c",
            "return.requested",
            "2026-11-03T00:00:00Z",
            order={"id": "o-1"},
            customer={"id": "c-1"},
        ),
        event(
            "d", "order.placed", "2026-11-04T00:00:00Z", order={"id": "o-3"}, customer={"id": "c-2"}
        ),
    ]
    return [h.post_event(body).json() for body in bodies]


def test_filters(h: Harness) -> None:
    decided = _seed(h)
    ids = [d["run_id"] for d in decided]
    assert [r["id"] for r in _runs(h)["runs"]] == ids[::-1]
    assert [r["id"] for r in _runs(h, order_id="o-1")["runs"]] == [ids[2], ids[0]]
    assert [r["id"] for r in _runs(h, customer_id="c-2")["runs"]] == [ids[3]]
    assert [r["id"] for r in _runs(h, type="cancel.requested")["runs"]] == [ids[1], ids[0]]
    assert [r["id"] for r in _runs(h, ruleset="returns", version=3)["runs"]] == [ids[2]]
    assert _runs(h, ruleset="returns", version=4)["runs"] == []
    window = _runs(h, since="2026-11-02T00:00:00Z", until="2026-11-04T00:00:00+00:00")
    assert [r["id"] for r in window["runs"]] == [ids[2], ids[1]]
    summary = _runs(h, order_id="o-2")["runs"][0]
    assert summary["versions"] == [{"ruleset": "cancels", "version": 1}]
    assert summary["rows"] == ["cancel_policy!6"] and summary["action_count"] == 1


def test_paging(h: Harness) -> None:
    ids = [d["run_id"] for d in _seed(h)][::-1]
    first = _runs(h, limit=3)
    assert [r["id"] for r in first["runs"]] == ids[:3] and first["next_cursor"]
    second = _runs(h, limit=3, cursor=first["next_cursor"])
    assert [r["id"] for r in second["runs"]] == ids[3:] and second["next_cursor"] is None


def test_one_run_in_full(h: Harness) -> None:
    decided = _seed(h)[1]
    answer = h.client.get(f"/v1/runs/{decided['run_id']}", headers=h.headers(h.auditor_key))
    assert answer.status_code == 200
    run = answer.json()
    assert run["event"]["id"] == "b" and run["event"]["type"] == "cancel.requested"
    assert run["event"]["data"] == {"order": {"id": "o-2"}, "customer": {"id": "c-1"}}
    assert run["enriched"]["customer"]["cancellations_30d"] == 2
    [policy] = run["decisions"]
    assert (policy["ruleset"], policy["version"]) == ("cancels", 1)
    assert policy["trace"][0]["row"] == "cancel_policy!6"
    assert policy["actions"][0]["id"] == f"{run['id']}:0"
    assert set(run["timings"]) >= {"total_ms", "decide_ms"}
    assert run["decisions"] == decided["decisions"]
    assert run["versions"] == [{"ruleset": "cancels", "version": 1}]
    assert run["rows"] == ["cancel_policy!6"]


def test_unknown_run_and_roles(h: Harness) -> None:
    missing = h.client.get("/v1/runs/nope", headers=h.headers(h.auditor_key))
    assert missing.status_code == 404
    assert h.client.get("/v1/runs").status_code == 401
