"""Rulesets over HTTP (SPEC §3) on PostgreSQL: upload, same bytes, 422 with cells, 415, 413,
history, download, export, approve, publish rules, staged rollout and rollback."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator

import openpyxl
import pytest
from fastapi.testclient import TestClient

import tables
from rules_service.rulesets.rollout import bucket
from tests.rules_service.test_platform_support import (
    XLSX,
    Keys,
    approve,
    publish,
    return_rows,
    returns_workbook,
    running_app,
    settings_for,
    upload,
    xlsx,
)


@pytest.fixture
def app(pg_url: str) -> Iterator[tuple[TestClient, Keys]]:
    with running_app(settings_for(pg_url, max_body_bytes=200_000)) as running:
        yield running


def test_upload_creates_a_draft_and_same_bytes_answer_the_same_version(app) -> None:
    client, keys = app
    data = returns_workbook()
    first = upload(client, keys, "returns", data)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["version"] == 1 and body["status"] == "draft"
    assert body["author"] == "ops"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["moves_money"] is True and body["tests_passed"] is True
    assert body["triggers"] == ["return.requested"]
    table = body["tables"][0]
    assert table["name"] == "return_policy" and len(table["rows"]) == 3
    assert table["rows"][0]["ref"] == "return_policy!6"
    assert first.headers["location"] == "/v1/rulesets/returns/versions/1"

    again = upload(client, keys, "returns", data, who="ops2")
    assert again.status_code == 200 and again.json()["version"] == 1

    second = upload(client, keys, "returns", returns_workbook(threshold=20000))
    assert second.status_code == 201 and second.json()["version"] == 2


def test_invalid_workbook_answers_422_with_every_cell(app) -> None:
    client, keys = app
    rows = return_rows()
    rows[5][1] = "> abc"  # B6
    rows[6][1] = "[1..]"  # B7
    response = upload(client, keys, "returns", xlsx({"return_policy": rows}))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    where = {p["where"] for p in body["details"]}
    assert {"return_policy!B6", "return_policy!B7"} <= where, body
    assert client.get("/v1/rulesets", headers=keys.headers("ops")).json() == []


def test_unsupported_type_is_415_and_big_body_413(app) -> None:
    client, keys = app
    response = upload(client, keys, "returns", b"hello", content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    response = upload(client, keys, "returns", b"x" * 300_000)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_csv_and_json_uploads(app) -> None:
    client, keys = app
    rows = return_rows(money=False)
    csv_text = "\n".join(",".join(_csv(c) for c in row) for row in rows) + "\n"
    response = upload(client, keys, "returns", csv_text.encode(), content_type="text/csv")
    assert response.status_code == 201, response.text
    normalized = client.get("/v1/rulesets/returns/versions/1/export?format=json",
                            headers=keys.headers("ops"))
    assert normalized.status_code == 200
    assert normalized.headers["x-content-sha256"] == hashlib.sha256(normalized.content).hexdigest()
    again = upload(client, keys, "other", normalized.content, content_type="application/json")
    assert again.status_code == 201
    assert again.json()["tables"] == response.json()["tables"]


def _csv(cell: object) -> str:
    text = str(cell)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"') else text


def test_history_download_and_export(app) -> None:
    client, keys = app
    first, second = returns_workbook(), returns_workbook(threshold=10000)
    upload(client, keys, "returns", first)
    upload(client, keys, "returns", second)
    history = client.get("/v1/rulesets/returns/versions", headers=keys.headers("auditor"))
    assert [v["version"] for v in history.json()] == [2, 1]
    download = client.get("/v1/rulesets/returns/versions/1/workbook",
                          headers=keys.headers("auditor"))
    assert download.status_code == 200 and download.content == first
    assert download.headers["x-content-sha256"] == hashlib.sha256(first).hexdigest()
    assert download.headers["content-type"] == XLSX
    export = client.get("/v1/rulesets/returns/versions/2/export", headers=keys.headers("ops"))
    assert export.status_code == 200
    assert export.headers["x-content-sha256"] == hashlib.sha256(export.content).hexdigest()
    assert tables.load_workbook(export.content) == tables.load_workbook(second)
    listing = client.get("/v1/rulesets", headers=keys.headers("ops")).json()
    assert listing[0]["name"] == "returns" and listing[0]["latest_version"] == 2


def test_diff_shows_a_row_inserted_at_the_top_as_one_added_row(app) -> None:
    client, keys = app
    upload(client, keys, "returns", returns_workbook())
    upload(client, keys, "returns",
           returns_workbook(threshold=25000, extra_top=['"lost"', "-", '"refund"', "x"]))
    response = client.get("/v1/rulesets/returns/diff?from=1&to=2", headers=keys.headers("ops"))
    assert response.status_code == 200, response.text
    changes = response.json()["diff"]
    table = changes["tables_changed"][0]
    assert [r["ref"] for r in table["rows_added"]] == ["return_policy!6"]
    assert table["rows_removed"] == []
    assert len(table["rows_changed"]) == 1
    changed = table["rows_changed"][0]
    assert (changed["from_row"], changed["to_row"]) == (7, 8)
    assert changed["cells"] == [{"column": "when order.total", "from": "> 30000",
                                 "to": "> 25000"}]
    assert changes["summary"]["rows_added"] == 1


def test_approval_rules(app) -> None:
    client, keys = app
    upload(client, keys, "returns", returns_workbook())
    assert approve(client, keys, "returns", 1, who="ops").status_code == 403  # wrong role
    keys.make("author-approver", "ops", "approver")
    upload(client, keys, "returns", returns_workbook(threshold=1), who="author-approver")
    refused = approve(client, keys, "returns", 2, who="author-approver")
    assert refused.status_code == 403 and "author" in refused.json()["message"]
    ok = approve(client, keys, "returns", 1)
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert ok.json()["approvals"][0]["approver"] == "approver"
    assert approve(client, keys, "returns", 1).status_code == 409
    assert approve(client, keys, "returns", 9).status_code == 404


def test_money_version_needs_an_approval_before_publish(app) -> None:
    client, keys = app
    upload(client, keys, "returns", returns_workbook(money=True))
    refused = publish(client, keys, "returns", 1, 100)
    assert refused.status_code == 409 and "approve" in refused.json()["message"]
    assert publish(client, keys, "returns", 1, 100, who="approver").status_code == 403
    approve(client, keys, "returns", 1)
    assert publish(client, keys, "returns", 1, 100).status_code == 200
    assert publish(client, keys, "returns", 1, 0).status_code == 422
    assert publish(client, keys, "returns", 1, 101).status_code == 422


def test_failing_tests_block_publish(app) -> None:
    client, keys = app
    tests_sheet = [["event", "expect"],
                   [json.dumps({"type": "return.requested",
                                "data": {"return": {"reason": "damaged"}}}),
                    json.dumps({"outputs": {"outcome": "reject"}})]]
    data = xlsx({"return_policy": return_rows(money=False), "_tests": tests_sheet})
    response = upload(client, keys, "returns", data)
    assert response.status_code == 201, response.text
    assert response.json()["tests_passed"] is False
    assert response.json()["test_failures"]
    refused = publish(client, keys, "returns", 1, 100)
    assert refused.status_code == 409 and "_tests" in refused.json()["message"]


def _key_in_bucket(low: int, high: int, start: int = 0) -> str:
    return next(f"order-{i}" for i in range(start, 100_000) if low <= bucket(f"order-{i}") < high)


def test_staged_rollout_then_full_then_rollback(app) -> None:
    client, keys = app
    registry = client.app.state.registry
    upload(client, keys, "returns", returns_workbook(money=False))
    upload(client, keys, "returns", returns_workbook(money=False, threshold=100))
    assert publish(client, keys, "returns", 1, 100).status_code == 200
    answer = publish(client, keys, "returns", 2, 10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["current_version"], body["current_percent"], body["previous_version"]) == \
        (2, 10, 1)
    low, high = _key_in_bucket(0, 10), _key_in_bucket(10, 100)
    assert _version(registry, low) == 2 and _version(registry, high) == 1
    versions = {v["version"]: v for v in client.get(
        "/v1/rulesets/returns/versions", headers=keys.headers("ops")).json()}
    assert (versions[2]["status"], versions[2]["live_percent"]) == ("live", 10)
    assert (versions[1]["status"], versions[1]["live_percent"]) == ("live", 90)

    mid = _key_in_bucket(10, 50)
    assert _version(registry, mid) == 1
    publish(client, keys, "returns", 2, 50)
    assert _version(registry, low) == 2 and _version(registry, mid) == 2  # monotone
    publish(client, keys, "returns", 2, 100)
    assert {_version(registry, k) for k in (low, mid, high)} == {2}
    assert registry.select(event_type="order.placed", routing_key=low) == []

    rolled = client.post("/v1/rulesets/returns/rollback", headers=keys.headers("ops"))
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["current_version"], rolled.json()["current_percent"]) == (1, 100)
    assert {_version(registry, k) for k in (low, mid, high)} == {1}
    status = client.get("/v1/rulesets/returns/versions/2", headers=keys.headers("ops")).json()
    assert status["status"] == "retired"
    again = client.post("/v1/rulesets/returns/rollback", headers=keys.headers("ops"))
    assert again.status_code == 409
    history = client.get("/v1/rulesets/returns/publications", headers=keys.headers("auditor"))
    assert [(p["action"], p["version"], p["percent"]) for p in history.json()] == [
        ("publish", 1, 100), ("publish", 2, 10), ("publish", 2, 50), ("publish", 2, 100),
        ("rollback", 1, 100)]

    kinds = [e["kind"] for e in client.get("/v1/audit?ruleset=returns",
                                           headers=keys.headers("auditor")).json()["entries"]]
    assert kinds == ["ruleset.uploaded", "ruleset.uploaded", "ruleset.published",
                     "ruleset.published", "ruleset.published", "ruleset.published",
                     "ruleset.rolled_back"]


def _version(registry, routing_key: str) -> int | None:
    choices = registry.select(event_type="return.requested", routing_key=routing_key)
    assert len(choices) <= 1
    return choices[0].version if choices else None


def test_unknown_ruleset_and_version_are_404(app) -> None:
    client, keys = app
    h = keys.headers("ops")
    assert client.get("/v1/rulesets/nope/versions", headers=h).status_code == 404
    upload(client, keys, "returns", returns_workbook())
    assert client.get("/v1/rulesets/returns/versions/5", headers=h).status_code == 404
    assert client.get("/v1/rulesets/returns/diff?from=1&to=5", headers=h).status_code == 404
    assert client.post("/v1/rulesets/returns/rollback", headers=h).status_code == 409


def test_export_sheet_is_readable_xlsx(app) -> None:
    client, keys = app
    upload(client, keys, "returns", returns_workbook())
    export = client.get("/v1/rulesets/returns/versions/1/export", headers=keys.headers("ops"))
    book = openpyxl.load_workbook(io.BytesIO(export.content))
    assert "return_policy" in book.sheetnames


def _event(n: int, reason: str, total: int) -> dict:
    return {"id": f"evt_{n}", "source": "test", "type": "return.requested",
            "occurred_at": "2026-11-20T10:00:00+09:00",
            "data": {"order": {"id": f"o{n}", "total": total}, "customer": {"id": f"c{n}"},
                     "return": {"reason": reason}}}


def test_backtest_counts_changed_decisions(app) -> None:
    client, keys = app
    upload(client, keys, "returns", returns_workbook(money=False))
    publish(client, keys, "returns", 1, 100)
    for n, (reason, total) in enumerate([("damaged", 100), ("size", 50000), ("size", 100)]):
        answer = client.post("/v1/events", json=_event(n, reason, total),
                             headers=keys.headers("service"))
        assert answer.status_code == 200, answer.text
    upload(client, keys, "returns", returns_workbook(money=False, threshold=10))
    response = client.post("/v1/rulesets/returns/versions/2/backtest", json={"last": 100},
                           headers=keys.headers("approver"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["replayed"], body["changed"], body["unchanged"]) == (3, 1, 2)
    example = body["examples"][0]
    assert example["event_id"] == "evt_2"
    assert example["before"]["outputs"] == {"outcome": "reject"}
    assert example["after"]["outputs"] == {"outcome": "review"}
    same = client.post("/v1/rulesets/returns/versions/1/backtest",
                       headers=keys.headers("ops")).json()
    assert (same["replayed"], same["changed"]) == (3, 0)


def test_ruleset_names_are_checked_and_one_ruleset_is_readable(app) -> None:
    client, keys = app
    assert upload(client, keys, "bad name", returns_workbook()).status_code == 422
    assert upload(client, keys, "-dash", returns_workbook()).status_code == 422
    upload(client, keys, "returns.v2_jp", returns_workbook())
    one = client.get("/v1/rulesets/returns.v2_jp", headers=keys.headers("approver"))
    assert one.status_code == 200
    assert one.json()["latest_version"] == 1 and one.json()["current_version"] is None
