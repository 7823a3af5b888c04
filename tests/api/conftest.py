"""Fixtures of the API tests: rules_service on PostgreSQL and action_service (worker=False) on
SQLite, each started once per module with its lifespan (migrations, bootstrap admin key) and
seeded through its API (or, for actions, the service layer), and `Api.known`: real values of
path and query parameters (the seeded ruleset, versions, runs, keys, actions)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from schemathesis.python.asgi import ASGIClient, shutdown_lifespans
from sqlalchemy import update

from action_service.actions import service as actions
from action_service.actions.models import Action, Status
from action_service.actions.schemas import Command
from action_service.app import create_app as create_action_app
from rules_service.app import create_app as create_rules_app
from runbook.db import session_scope
from runbook.settings import Settings
from tests.conftest import _create_database, _drop_database
from tests.fakes.fixtures import command

ADMIN_KEY = "rbk_schemathesis_admin_key"
BASE_URL = "http://testserver"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHOPIFY_SECRET = "shpss_test"
TRACKING_SECRET = "trk_test"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Api:
    """A started app, the session schemathesis sends through, and real values of its path
    parameters (`known`) that generated cases are steered to half of the time."""

    client: ASGIClient
    known: dict[str, list[Any]] = field(default_factory=dict)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def _ok(api: Api, response: Any, *expected: int) -> Any:
    assert response.status_code in expected, (response.status_code, response.text)
    return response.json()


def _started(app: Any) -> ASGIClient:
    client = ASGIClient(app, base_url=BASE_URL)
    client.__enter__()  # starts the lifespan (migrations, bootstrap admin key, registry)
    return client


def _stopped(client: ASGIClient) -> None:
    """Ends the lifespan (stops the registry, relay, engine) before the database is dropped.
    schemathesis keeps started lifespans until `shutdown_lifespans`, which ends all of them:
    fine here, the apps of a module are torn down together at its end."""
    client.__exit__(None, None, None)
    shutdown_lifespans()


@pytest.fixture(scope="module")
def rules_api(pg_server: str) -> Iterator[Api]:
    name = f"runbook_st_{uuid.uuid4().hex[:10]}"
    url = _create_database(name)
    settings_ = Settings(bootstrap_admin_key=ADMIN_KEY, log_level="ERROR", database_url=url,
                         shopify_webhook_secret=SHOPIFY_SECRET,
                         tracking_webhook_secret=TRACKING_SECRET)
    client = _started(create_rules_app(settings_))
    try:
        api = Api(client)
        _seed_rules(api)
        yield api
    finally:
        _stopped(client)
        _drop_database(name)


def _seed_rules(api: Api) -> None:
    approver = _ok(api, api.request("POST", "/v1/keys",
                                    json={"name": "approver-2", "roles": ["approver"]}), 201)
    spare = _ok(api, api.request("POST", "/v1/keys", json={"name": "spare", "roles": ["ops"]}),
                201)
    workbook = (EXAMPLES / "returns.xlsx").read_bytes()
    version = _ok(api, api.request("PUT", "/v1/rulesets/returns", data=workbook,
                                   headers={"Content-Type": XLSX}), 201)
    number = version["version"]
    _ok(api, api.request("POST", f"/v1/rulesets/returns/versions/{number}/approve",
                         json={"comment": "ok"},
                         headers={"Authorization": f"Bearer {approver['key']}"}), 200)
    _ok(api, api.request("POST", f"/v1/rulesets/returns/versions/{number}/publish",
                         json={"percent": 100}), 200)
    # A second, unapproved draft: approve/publish/diff/backtest between two real versions.
    normalized = api.request("GET", f"/v1/rulesets/returns/versions/{number}/export",
                             params={"format": "json"})
    doc = _ok(api, normalized, 200)
    doc.setdefault("description", "")
    second = api.request("PUT", "/v1/rulesets/returns", data=json.dumps(doc).encode() + b" ",
                         headers={"Content-Type": "application/json"})
    versions = [number]
    if second.status_code in (200, 201):
        versions.append(second.json()["version"])
    run_ids: list[str] = []
    order_ids: list[str] = []
    for event in json.loads((EXAMPLES / "events.json").read_text()):
        decided = _ok(api, api.request("POST", "/v1/events", json=event), 200, 201, 202)
        if decided.get("run_id"):
            run_ids.append(decided["run_id"])
        order = (event.get("data") or {}).get("order") or {}
        if "id" in order:
            order_ids.append(str(order["id"]))
    assert run_ids, "the example events produced no runs"
    api.known = {
        "name": ["returns"],
        "version": versions,
        "run_id": run_ids,
        "key_id": [spare["id"]],
        "from": versions,
        "to": versions,
        "order_id": order_ids,
    }


@pytest.fixture(scope="module")
def actions_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    path = tmp_path_factory.mktemp("schemathesis") / "actions.db"
    settings_ = Settings(bootstrap_admin_key=ADMIN_KEY, log_level="ERROR",
                         sqlite_path=str(path))
    app = create_action_app(settings_, worker=False)
    client = _started(app)
    try:
        api = Api(client)
        api.known = {"action_id": _seed_actions(app.state.session_factory)}
        yield api
    finally:
        _stopped(client)


def _seed_actions(factory: Any) -> list[str]:
    """One action waiting for approval, one pending, one dead, one failed."""
    commands = [
        command("post_slack", {"channel": "#ops", "text": "x"}, approval="manager",
                data={"order": {"id": "1001"}}),
        command("post_slack", {"channel": "#ops", "text": "y"}, data={"order": {"id": "1002"}}),
        command("webhook", {"url": "http://127.0.0.1:9/hook"}),
        command("webhook", {"url": "http://127.0.0.1:9/hook"}),
    ]
    parsed = [Command.model_validate(c) for c in commands]
    with session_scope(factory) as session:
        ids = actions.persist(session=session, commands=parsed)
        session.execute(update(Action).where(Action.id == parsed[2].command_id)
                        .values(status=Status.DEAD.value))
        session.execute(update(Action).where(Action.id == parsed[3].command_id)
                        .values(status=Status.FAILED.value))
    return ids
