"""Shared helpers of the platform / rulesets / auth / audit tests (no tests here).

Workbooks are real .xlsx bytes written with openpyxl. `running_app` starts the real app
(lifespan included: migrations, bootstrap admin key, registry) behind a TestClient, and
`Keys` holds one API key per role, created through `POST /v1/keys`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from rules_service.app import create_app
from runbook.settings import Settings
from tests.tables.workbooks import make_xlsx

ADMIN_KEY = "rbk_test_bootstrap_admin_key"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROLES = ("ops", "approver", "auditor", "service")

Rows = list[list[Any]]


def xlsx(sheets: dict[str, Rows]) -> bytes:
    return make_xlsx(sheets)


def return_rows(*, money: bool = True, threshold: int = 30000,
                extra_top: list[Any] | None = None) -> Rows:
    """The return_policy table; `money` adds a `do refund` column (then it moves money)."""
    header = ["when return.reason", "when order.total", "then outcome"]
    header.append("do refund" if money else "do post_slack")
    rows: Rows = [
        ['"damaged"', "-", '"refund"', "amount=order.total" if money else 'channel="#returns"'],
        ["-", f"> {threshold}", '"review"', "-"],
        ["-", "-", '"reject"', "-"],
    ]
    if extra_top is not None:
        rows.insert(0, extra_top)
    return [["Table", "return_policy"], ["Trigger", "return.requested"], ["Hit policy", "FIRST"],
            [], header, *rows]


def returns_workbook(**kwargs: Any) -> bytes:
    return xlsx({"return_policy": return_rows(**kwargs)})


def settings_for(url: str | None, *, tmp_sqlite: str | None = None,
                 redis_prefix: str | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = {"bootstrap_admin_key": ADMIN_KEY, "log_level": "WARNING"}
    if url and url.startswith("sqlite"):
        values["sqlite_path"] = url.removeprefix("sqlite:///")
    elif url:
        values["database_url"] = url
    if tmp_sqlite:
        values["sqlite_path"] = tmp_sqlite
    if redis_prefix is not None:
        from tests.conftest import REDIS_URL

        values["redis_url"] = REDIS_URL
        values["redis_prefix"] = redis_prefix
    values.update(extra)
    return Settings(**values)


@dataclass
class Keys:
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        key = ADMIN_KEY if who == "admin" else self.keys[who]
        return {"Authorization": f"Bearer {key}"}

    def make(self, name: str, *roles: str) -> str:
        response = self.client.post("/v1/keys", json={"name": name, "roles": list(roles)},
                                    headers=self.headers("admin"))
        assert response.status_code == 201, response.text
        self.keys[name] = response.json()["key"]
        return self.keys[name]


@contextlib.contextmanager
def running_app(settings: Settings) -> Iterator[tuple[TestClient, Keys]]:
    """The app with its lifespan, and keys: one per role (named after it) plus `ops2`."""
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        keys = Keys(client)
        for role in ROLES:
            keys.make(role, role)
        keys.make("ops2", "ops")
        yield client, keys


def upload(client: TestClient, keys: Keys, name: str, data: bytes, *, who: str = "ops",
           content_type: str = XLSX) -> Any:
    return client.put(f"/v1/rulesets/{name}", content=data,
                      headers={**keys.headers(who), "Content-Type": content_type})


def publish(client: TestClient, keys: Keys, name: str, version: int, percent: int,
            *, who: str = "ops") -> Any:
    return client.post(f"/v1/rulesets/{name}/versions/{version}/publish",
                       json={"percent": percent}, headers=keys.headers(who))


def approve(client: TestClient, keys: Keys, name: str, version: int, *,
            who: str = "approver") -> Any:
    return client.post(f"/v1/rulesets/{name}/versions/{version}/approve",
                       json={"comment": "looks right"}, headers=keys.headers(who))
