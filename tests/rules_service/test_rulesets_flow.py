"""The ruleset life cycle on the embedded SQLite default, concurrent uploads on PostgreSQL,
and the pure pieces: rollout buckets and publication state, the diff."""

from __future__ import annotations

import threading

import pytest

import tables
from rules_service.rulesets.rollout import PublicationState, bucket, choose
from tests.rules_service.test_platform_support import (
    approve,
    publish,
    return_rows,
    returns_workbook,
    running_app,
    settings_for,
    upload,
    xlsx,
)


def test_life_cycle_on_sqlite(sqlite_url: str) -> None:
    with running_app(settings_for(sqlite_url)) as (client, keys):
        assert upload(client, keys, "returns", returns_workbook()).status_code == 201
        assert upload(client, keys, "returns", returns_workbook(threshold=1)).status_code == 201
        assert approve(client, keys, "returns", 1).status_code == 200
        assert approve(client, keys, "returns", 2).status_code == 200
        assert publish(client, keys, "returns", 1, 100).status_code == 200
        assert publish(client, keys, "returns", 2, 25).status_code == 200
        rolled = client.post("/v1/rulesets/returns/rollback", headers=keys.headers("ops"))
        assert rolled.json()["current_version"] == 1
        assert client.get("/v1/audit/verify", headers=keys.headers("auditor")).json()["ok"]


def test_concurrent_uploads_number_versions_without_gaps(pg_url: str) -> None:
    with running_app(settings_for(pg_url)) as (client, keys):
        bodies = [returns_workbook(threshold=t) for t in (1, 2, 3, 4)] + [returns_workbook()] * 2
        answers: list[int] = []

        def put(data: bytes) -> None:
            answers.append(upload(client, keys, "returns", data).status_code)

        threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [200, 201, 201, 201, 201, 201]
        versions = client.get("/v1/rulesets/returns/versions", headers=keys.headers("ops")).json()
        assert sorted(v["version"] for v in versions) == [1, 2, 3, 4, 5]


def test_bucket_is_stable_and_spread() -> None:
    assert bucket("order-1") == bucket("order-1")
    assert 0 <= bucket("x") < 100
    assert bucket(None) == 99
    counts = [0] * 10
    for i in range(5000):
        counts[bucket(f"order-{i}") // 10] += 1
    assert min(counts) > 400


def test_raising_the_percent_only_moves_new_keys() -> None:
    keys = [f"k{i}" for i in range(2000)]
    moved_before: set[str] = set()
    for percent in (1, 5, 10, 25, 50, 99, 100):
        moved = {k for k in keys
                 if choose(current=2, percent=percent, previous=1, routing_key=k) == 2}
        assert moved_before <= moved
        moved_before = moved
    assert len(moved_before) == len(keys)


def test_publication_state_walks_back_on_rollback() -> None:
    state = PublicationState()
    state.publish(1, 100)
    state.publish(2, 10)
    assert (state.current, state.previous) == (2, 1)
    state.publish(3, 20)  # replaces the rollout of 2; 1 keeps the rest
    assert (state.current, state.previous) == (3, 1)
    state.publish(3, 100)
    state.publish(4, 100)
    assert state.rollback() == 3 and state.previous == 1
    assert state.rollback() == 1 and state.previous is None
    with pytest.raises(LookupError):
        state.rollback()
    state.publish(5, 100)
    state.publish(6, 10)
    with pytest.raises(ValueError):
        state.publish(5, 50)  # the fully live version cannot go back to a share
    state.publish(5, 100)
    assert (state.current, state.percent) == (5, 100)


def _json(rows: list[list[object]], **sheets: list[list[object]]) -> dict:
    return tables.load_workbook(xlsx({"return_policy": rows, **sheets})).to_json()


def test_diff_of_identical_versions_is_empty() -> None:
    doc = _json(return_rows())
    result = tables.diff(doc, doc)
    assert result["identical"] and result["tables_changed"] == []


def test_diff_metadata_columns_moves_and_tables() -> None:
    old = return_rows(money=False)
    new = return_rows(money=False)
    new[2] = ["Hit policy", "RULE ORDER"]
    new[5], new[6] = new[6], new[5]  # swap the first two rules
    extra = [["Table", "other"], ["Trigger", "order.placed"], ["Hit policy", "FIRST"], [],
             ["when order.total", "then tier"], ["> 1", '"big"']]
    result = tables.diff(_json(old), _json(new, other=extra))
    assert [t["table"] for t in result["tables_added"]] == ["other"]
    table = result["tables_changed"][0]
    assert table["metadata"] == [{"field": "hit_policy", "from": "FIRST", "to": "RULE ORDER"}]
    assert table["rows_moved"] and not table["rows_changed"]
    widened = return_rows(money=False)
    for row in widened[4:]:
        row.append("note" if row is widened[4] else "")
    changes = tables.diff(_json(old), _json(widened))["tables_changed"][0]
    assert [c["column"] for c in changes["columns_added"]] == ["note"]
    assert changes["rows_changed"] == [] and changes["rows_added"] == []
    removed = tables.diff(_json(new, other=extra), _json(old))
    assert [t["table"] for t in removed["tables_removed"]] == ["other"]
