"""The real app (create_app): a workbook uploaded and published through the rulesets API
decides events posted over HTTP, and the relay puts the commands on the Redis Stream."""

from __future__ import annotations

import json
import time

import redis
from fastapi.testclient import TestClient

from rules_service.app import create_app
from rules_service.outbox.sinks import stream_name
from runbook.settings import Settings
from tests.rules_service.test_events_support import CANCEL_SHEET, event, xlsx

ADMIN = "rb_admin_end_to_end_key"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _wait_for(predicate, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_uploaded_workbook_decides_and_commands_reach_the_stream(
    pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    settings = Settings(
        database_url=pg_url,
        redis_url=redis_server,
        redis_prefix=redis_prefix,
        bootstrap_admin_key=ADMIN,
    )
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with TestClient(create_app(settings)) as client:
        upload = client.put(
            "/v1/rulesets/cancels",
            content=xlsx({"cancel_policy": CANCEL_SHEET}),
            headers={**auth, "Content-Type": XLSX},
        )
        assert upload.status_code == 201, upload.text
        version = upload.json()["version"]
        published = client.post(
            f"/v1/rulesets/cancels/versions/{version}/publish", json={"percent": 100}, headers=auth
        )
        assert published.status_code == 200, published.text

        def post(eid: str, at: str, order: str) -> dict:
            body = event(eid, "cancel.requested", at, order={"id": order}, customer={"id": "c"})
            answer = client.post("/v1/events", json=body, headers=auth)
            assert answer.status_code == 200, answer.text
            return answer.json()

        assert _wait_for(lambda: post("probe", "2026-01-01T00:00:00Z", "o-0")["decisions"])
        first = post("e1", "2026-11-01T00:00:00Z", "o-1")
        second = post("e2", "2026-11-10T00:00:00Z", "o-2")
        assert first["decisions"][0]["outputs"] == {"outcome": "ok"}
        assert [d["version"] for d in second["decisions"]] == [version]
        [escalate] = second["decisions"][0]["actions"]
        stream = redis.Redis.from_url(redis_server)
        assert _wait_for(lambda: stream.xlen(stream_name(redis_prefix)) == 1)
        [(_, fields)] = stream.xrange(stream_name(redis_prefix))
        command = json.loads(fields[b"command"])
        assert command["command_id"] == escalate["id"] == f"{second['run_id']}:0"
        assert (command["ruleset"], command["version"], command["row"]) == (
            "cancels",
            version,
            "cancel_policy!6",
        )
        run = client.get(f"/v1/runs/{second['run_id']}", headers=auth).json()
        assert run["enriched"]["customer"]["cancellations_30d"] == 2
        audit = client.get("/v1/audit", params={"run_id": second["run_id"]}, headers=auth)
        if audit.status_code == 200:  # the audit router is the platform's
            entries = audit.json()
            entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
            assert any(e.get("ruleset") == "cancels" for e in entries)
