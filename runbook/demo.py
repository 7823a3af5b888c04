"""`runbook demo`: Runbook on its embedded default, end to end, in one process.

Starts local fake servers for every external system, rules_service (SQLite, in-process action
worker) and the action_service API, uploads the example workbook, has it approved and
published, posts the sample events, and prints what was decided and carried out.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from runbook.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FINAL = {"succeeded", "dead", "rejected", "expired", "pending_approval"}


class ServerThread:
    """A uvicorn server in a daemon thread, stopped cleanly on exit."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("a Runbook service did not start; see the log above")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


WAREHOUSE = {"name": "Runbook Shop 返品センター", "street1": "1-2-3 Ariake", "city": "Koto-ku",
             "state": "Tokyo", "postalCode": "135-0063", "country": "JP", "phone": "0300000000"}


@contextmanager
def _fakes(events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The fake external systems of the project's test suite (a source checkout has them),
    with the sample events' orders known to the fake Shopify."""
    if str(ROOT) not in sys.path and (ROOT / "tests" / "fakes").is_dir():
        sys.path.insert(0, str(ROOT))
    try:
        from tests.fakes.environment import connector_values, running_fakes
    except ImportError:
        raise SystemExit(
            "runbook demo runs from a source checkout: tests/fakes is missing"
        ) from None
    with running_fakes() as fakes:
        shop = fakes.system("shopify")
        for event in events:
            order = event["data"].get("order", {})
            if "total" in order and order["id"] not in shop.orders:
                gateway = "paidy" if order.get("payment_method") == "bnpl" else "shopify_payments"
                shop.add_order(order["id"], paid=f"{order['total']:.2f}", gateway=gateway)
        yield connector_values(fakes)


def run_demo(
    *,
    workbook: Path,
    events: Path,
    port: int,
    action_port: int,
    keep_running: bool,
    data_dir: Path | None,
) -> None:
    console = Console(width=max(Console().width, 140))
    admin_key = "rbk_demo_admin_" + secrets.token_hex(8)
    with ExitStack() as stack:
        folder = data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        sample = json.loads(events.read_text())
        connectors = stack.enter_context(_fakes(sample))
        settings = Settings(
            sqlite_path=str(folder / "runbook-demo.db"),
            database_url=None,
            redis_url=None,
            bootstrap_admin_key=admin_key,
            port=port,
            action_port=action_port,
            return_address=WAREHOUSE,
            log_level="WARNING",
            action_backoff_base_seconds=0.2,
            **connectors,
        )
        from action_service.app import create_app as create_action_app
        from rules_service.app import create_app as create_rules_app

        console.print(f"[bold]Runbook demo[/] — data in {folder}")
        stack.enter_context(ServerThread(create_rules_app(settings), "127.0.0.1", port))
        stack.enter_context(ServerThread(create_action_app(settings), "127.0.0.1", action_port))
        rules = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
        actions = stack.enter_context(
            httpx.Client(base_url=f"http://127.0.0.1:{action_port}", timeout=30)
        )
        keys = _make_keys(rules, admin_key)
        version = _publish(console, rules, keys, workbook)
        results = _post_events(rules, keys["service"], sample)
        outcomes = _wait_for_actions(actions, keys["ops"], results)
        _print_decisions(console, results, outcomes)
        console.print(
            f"\nruleset [bold]returns[/] v{version} is live. "
            f"Rules API: http://127.0.0.1:{port}/docs · Action API: http://127.0.0.1:{action_port}/docs"
            f"\nAdmin key for this run: [bold]{admin_key}[/]"
        )
        if keep_running:
            console.print("Serving until Ctrl-C.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                console.print("stopping…")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise SystemExit(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text}"
        )
    return response.json()


def _make_keys(rules: httpx.Client, admin_key: str) -> dict[str, str]:
    keys = {}
    for name, roles in (("ops", ["ops"]), ("approver", ["approver"]), ("service", ["service"])):
        body = {"name": f"demo-{name}", "roles": roles}
        keys[name] = _checked(rules.post("/v1/keys", json=body, headers=_bearer(admin_key)))["key"]
    return keys


def _publish(console: Console, rules: httpx.Client, keys: dict[str, str], workbook: Path) -> int:
    uploaded = _checked(
        rules.put(
            "/v1/rulesets/returns",
            content=workbook.read_bytes(),
            headers={**_bearer(keys["ops"]), "Content-Type": XLSX},
        )
    )
    version = uploaded["version"]
    console.print(
        f"uploaded {workbook.name}: version {version}, {uploaded['table_count']} tables, "
        f"{uploaded['row_count']} rows, {len(uploaded['warnings'])} warning(s), "
        f"moves money: {uploaded['moves_money']}"
    )
    if uploaded["moves_money"]:
        _checked(
            rules.post(
                f"/v1/rulesets/returns/versions/{version}/approve",
                json={"comment": "demo"},
                headers=_bearer(keys["approver"]),
            )
        )
        console.print("approved by demo-approver (the version can move money)")
    _checked(
        rules.post(
            f"/v1/rulesets/returns/versions/{version}/publish",
            json={"percent": 100},
            headers=_bearer(keys["ops"]),
        )
    )
    console.print("published to 100 % of traffic")
    return int(version)


def _post_events(
    rules: httpx.Client, key: str, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results = []
    for event in events:
        decision = _checked(rules.post("/v1/events", json=event, headers=_bearer(key)))
        results.append({"event": event, "decision": decision})
    return results


def _wait_for_actions(
    actions: httpx.Client, key: str, results: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each action's latest state, once every one has settled (or after 20 s)."""
    wanted = [a["id"] for r in results for d in r["decision"]["decisions"] for a in d["actions"]]
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for action_id in wanted:
            response = actions.get(f"/v1/actions/{action_id}", headers=_bearer(key))
            if response.status_code == 200:
                found[action_id] = response.json()
        if all(_settled(found.get(a, {})) for a in wanted):
            break
        time.sleep(0.3)
    return found


def _settled(outcome: dict[str, Any]) -> bool:
    """Finished, or waiting for a person or for a due time (a delay) that is not now."""
    if outcome.get("status") in FINAL:
        return True
    due = outcome.get("due_at")
    if outcome.get("status") != "pending" or not isinstance(due, str):
        return False
    return datetime.fromisoformat(due.replace("Z", "+00:00")) > datetime.now(UTC) + timedelta(
        minutes=1
    )


def _print_decisions(
    console: Console, results: list[dict[str, Any]], outcomes: dict[str, dict[str, Any]]
) -> None:
    table = Table(title="Decisions", show_lines=True)
    for column in ("event", "type", "version", "rows", "outputs", "actions"):
        table.add_column(column, overflow="fold")
    for result in results:
        event = result["event"]
        for decision in result["decision"]["decisions"] or [{}]:
            rows = "\n".join(hit["row"] for hit in decision.get("trace", []))
            outputs = "\n".join(
                f"{k} = {json.dumps(v, ensure_ascii=False)}"
                for k, v in decision.get("outputs", {}).items()
            )
            done = "\n".join(
                _action_line(a, outcomes.get(a["id"], {})) for a in decision.get("actions", [])
            )
            version = f"{decision.get('ruleset', '-')} v{decision.get('version', '-')}"
            table.add_row(event["id"], event["type"], version, rows, outputs, done)
    console.print(table)


def _action_line(action: dict[str, Any], outcome: dict[str, Any]) -> str:
    status = outcome.get("status", action.get("status", "?"))
    if status == "pending" and outcome.get("due_at"):
        status = f"scheduled for {outcome['due_at'][:16]}"
    elif status == "dead" and outcome.get("last_error"):
        status = f"dead: {outcome['last_error'][:60]}"
    return f"{action['action']} → {status}"
