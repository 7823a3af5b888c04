"""Shared helpers of the events/runs/outbox/webhooks tests (no tests here).

Workbooks are real .xlsx bytes written with openpyxl; a small live registry stands in for the
rulesets package where a test needs exact control over what is live.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openpyxl

import tables

CANCEL_SHEET: list[list[Any]] = [
    ["Table", "cancel_policy"],
    ["Trigger", "cancel.requested"],
    ["Hit policy", "FIRST"],
    [],
    ["when customer.cancellations_30d", "then outcome", "do escalate"],
    [">= 2", "escalate", 'to="manager", note="second cancellation in 30 days"'],
    ["-", "ok", "-"],
]

RETURN_SHEET: list[list[Any]] = [
    ["Table", "return_policy"],
    ["Trigger", "return.requested"],
    ["Hit policy", "FIRST"],
    [],
    [
        "when return.reason",
        "when delivery.days_since",
        "then outcome",
        "do refund",
        "do post_slack",
    ],
    [
        '"damaged"',
        "<= 30 + delivery.delay_days",
        '"refund"',
        "amount=order.total",
        'channel="#returns"',
    ],
    ["-", "> 30 + delivery.delay_days", '"reject"', "-", "-"],
    ["-", "-", '"review"', "-", 'channel="#review"'],
]

UNIQUE_SHEET: list[list[Any]] = [
    ["Table", "strict"],
    ["Trigger", "order.placed"],
    ["Hit policy", "UNIQUE"],
    [],
    ["when order.total", "then tier"],
    ["> 10", '"big"'],
    ["> 5", '"medium"'],
]


def xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass
class Choice:
    ruleset: str
    version: int
    rules: tables.RuleSet


class StaticRegistry:
    """Every ruleset given is fully live."""

    def __init__(self, rulesets: Sequence[tuple[str, int, bytes]]) -> None:
        self.choices = [Choice(n, v, tables.load_workbook(data)) for n, v, data in rulesets]

    def select(self, *, event_type: str, routing_key: str) -> list[Choice]:
        return [c for c in self.choices if event_type in c.rules.triggers]


def default_registry() -> StaticRegistry:
    return StaticRegistry(
        [
            ("cancels", 1, xlsx({"cancel_policy": CANCEL_SHEET})),
            ("returns", 3, xlsx({"return_policy": RETURN_SHEET})),
            ("strict", 1, xlsx({"strict": UNIQUE_SHEET})),
        ]
    )


def event(eid: str, kind: str, at: str, *, source: str = "test", **data: Any) -> dict[str, Any]:
    return {"id": eid, "source": source, "type": kind, "occurred_at": at, "data": data}


def migrated_sessions(url: str) -> Any:
    """A session factory on a freshly migrated database."""
    from runbook.db import make_engine, make_session_factory, migrate

    migrate(url)
    return make_session_factory(make_engine(url))


def accept(factory: Any, registry: Any, *events: dict[str, Any]) -> list[Any]:
    """Decides `events` in one transaction (the service layer, no HTTP); answers in order."""
    from rules_service.events import intake
    from rules_service.events.schemas import Event

    parsed = [Event.model_validate(e) for e in events]
    with factory() as session:
        accepted = intake.accept(session=session, events=parsed, registry=registry, actor="test")
        session.commit()
    return [accepted[(e.source, e.id)] for e in parsed]


# ---------------------------------------------------------------------------------- HTTP


@dataclass
class Harness:
    client: Any  # fastapi.testclient.TestClient
    app: Any
    factory: Any
    service_key: str
    auditor_key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.service_key}"}

    def post_event(self, body: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post("/v1/events", json=body, headers=self.headers(key))


def make_keys(factory: Any) -> tuple[str, str]:
    from runbook.auth import create_key

    with factory() as session:
        _, service = create_key(session=session, name="svc", roles=["service"], created_by="t")
        _, auditor = create_key(session=session, name="aud", roles=["auditor"], created_by="t")
        session.commit()
    return service, auditor


def events_app(*, settings: Any, factory: Any, registry: Any) -> Any:
    """The routers of this package on a bare app with the platform's error mapping."""
    from fastapi import FastAPI

    from rules_service.events.grouping import start_group_commit, stop_group_commit
    from rules_service.events.router import router as events_router
    from rules_service.runs.router import router as runs_router
    from runbook.http import install, lifespan

    app = FastAPI(lifespan=lifespan(start_group_commit, stop_group_commit))
    install(app, settings)
    app.state.settings = settings
    app.state.session_factory = factory
    app.state.registry = registry
    app.include_router(events_router)
    app.include_router(runs_router)
    return app


def harness(url: str, registry: Any = None, **settings: Any) -> Harness:
    from fastapi.testclient import TestClient

    from runbook.settings import Settings

    factory = migrated_sessions(url)
    service, auditor = make_keys(factory)
    config = Settings(database_url=url, **settings)
    app = events_app(settings=config, factory=factory, registry=registry or default_registry())
    return Harness(TestClient(app), app, factory, service, auditor)
