"""One error format for every failure, request ids, the body cap, health, readiness, metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from rules_service.app import create_app
from runbook.errors import Conflict
from tests.rules_service.test_platform_support import Keys, running_app, settings_for


@pytest.fixture
def app(sqlite_url: str) -> Iterator[tuple[TestClient, Keys]]:
    with running_app(settings_for(sqlite_url, max_body_bytes=1000)) as running:
        extra = APIRouter()

        @extra.get("/boom")
        def boom() -> None:
            raise RuntimeError("secret detail")

        @extra.get("/conflict")
        def conflict() -> None:
            raise Conflict("already", details={"x": 1})

        running[0].app.include_router(extra)
        yield running


def test_malformed_json_is_400(app) -> None:
    client, keys = app
    response = client.post("/v1/keys", content=b"{nope",
                           headers={**keys.headers("admin"), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_validation_errors_are_422_machine_readable(app) -> None:
    client, keys = app
    response = client.post("/v1/keys", json={"name": 5}, headers=keys.headers("admin"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid" and body["message"]
    locs = {tuple(d["loc"]) for d in body["details"]}
    assert ("body", "roles") in locs and ("body", "name") in locs


def test_runbook_errors_keep_their_status_and_details(app) -> None:
    client, _ = app
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == {"code": "conflict", "message": "already", "details": {"x": 1}}


def test_unexpected_error_is_500_without_traceback(app, caplog) -> None:
    client, _ = app
    response = client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal" and "secret" not in response.text
    assert body["details"]["request_id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_unknown_route_and_method_are_json(app) -> None:
    client, _ = app
    assert client.get("/nowhere").json()["code"] == "not_found"
    response = client.delete("/healthz")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_body_cap_is_413_also_when_streamed(app) -> None:
    client, keys = app
    response = client.post("/v1/keys", content=b"x" * 2000,
                           headers={**keys.headers("admin"), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 400

    streamed = client.put("/v1/rulesets/r", content=chunks(),
                          headers={**keys.headers("ops"), "Content-Type": "text/csv"})
    assert streamed.status_code == 413


def test_health_ready_and_metrics(app) -> None:
    client, _ = app
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "disabled"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "runbook_http_requests_total" in metrics.text
    assert "runbook_decisions_total" in metrics.text


def test_readyz_is_503_when_redis_is_down(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["redis"] == "unreachable"


def test_openapi_lists_the_ruleset_calls(app) -> None:
    client, _ = app
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/rulesets/{name}" in paths and "put" in paths["/v1/rulesets/{name}"]
    assert "/v1/rulesets/{name}/diff" in paths and "/v1/audit/verify" in paths
