"""API keys and roles: 401 without or with a bad key, 403 for the wrong role, admin passes
every check, keys are stored hashed and shown once, revocation, bootstrap key rotation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from runbook.auth import ApiKey
from tests.rules_service.test_platform_support import (
    ADMIN_KEY,
    Keys,
    returns_workbook,
    running_app,
    settings_for,
    upload,
)


@pytest.fixture
def app(sqlite_url: str) -> Iterator[tuple[TestClient, Keys]]:
    with running_app(settings_for(sqlite_url)) as running:
        yield running


def test_missing_or_unknown_key_is_401(app) -> None:
    client, _ = app
    response = client.get("/v1/rulesets")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    bad = client.get("/v1/rulesets", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    wrong_scheme = client.get("/v1/rulesets", headers={"Authorization": f"Basic {ADMIN_KEY}"})
    assert wrong_scheme.status_code == 401


def test_wrong_role_is_403_and_admin_passes_everything(app) -> None:
    client, keys = app
    response = upload(client, keys, "returns", returns_workbook(), who="auditor")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert client.get("/v1/audit", headers=keys.headers("ops")).status_code == 403
    assert client.post("/v1/keys", json={"name": "x", "roles": ["ops"]},
                       headers=keys.headers("ops")).status_code == 403
    assert upload(client, keys, "returns", returns_workbook(), who="admin").status_code == 201
    assert client.get("/v1/audit", headers=keys.headers("admin")).status_code == 200
    assert client.get("/v1/rulesets", headers=keys.headers("service")).status_code == 403


def test_keys_are_stored_as_hashes_and_shown_once(app) -> None:
    client, keys = app
    response = client.post("/v1/keys", json={"name": "finance", "roles": ["auditor", "auditor"]},
                           headers=keys.headers("admin"))
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"key", "id", "name", "roles"}
    assert body["roles"] == ["auditor"] and body["name"] == "finance"
    with client.app.state.session_factory() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.id == body["id"])).one()
        assert row.key_hash == hashlib.sha256(body["key"].encode()).hexdigest()
        assert body["key"] not in repr(row.__dict__)
    listing = client.get("/v1/keys", headers=keys.headers("admin")).json()
    assert all("key" not in item for item in listing)
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {body['key']}"}) \
        .status_code == 200


def test_invalid_key_requests_are_422(app) -> None:
    client, keys = app
    h = keys.headers("admin")
    assert client.post("/v1/keys", json={"name": "x", "roles": ["root"]}, headers=h) \
        .status_code == 422
    assert client.post("/v1/keys", json={"name": " ", "roles": ["ops"]}, headers=h) \
        .status_code == 422
    assert client.post("/v1/keys", json={"name": "x", "roles": []}, headers=h).status_code == 422


def test_revoked_key_is_refused(app) -> None:
    client, keys = app
    key = keys.make("temp", "ops")
    h = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/rulesets", headers=h).status_code == 200
    key_id = next(k["id"] for k in client.get("/v1/keys", headers=keys.headers("admin")).json()
                  if k["name"] == "temp")
    revoked = client.delete(f"/v1/keys/{key_id}", headers=keys.headers("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/v1/rulesets", headers=h).status_code == 401


def test_bootstrap_key_is_admin_from_first_start_and_rotates(tmp_path) -> None:
    path = str(tmp_path / "rb.db")
    with running_app(settings_for(None, tmp_sqlite=path)) as (client, _):
        assert client.get("/v1/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) \
            .status_code == 200
    rotated = settings_for(None, tmp_sqlite=path, bootstrap_admin_key="rbk_new_admin")
    from rules_service.app import create_app

    with TestClient(create_app(rotated)) as client:
        assert client.get("/v1/keys", headers={"Authorization": "Bearer rbk_new_admin"}) \
            .status_code == 200
        assert client.get("/v1/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) \
            .status_code == 401
