"""`runbook upload` and `runbook import` against a running rules_service."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from rules_service.app import create_app
from runbook.cli import app
from runbook.demo import ServerThread
from runbook.settings import Settings
from tests.fakes.server import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def test_upload_then_import_events(tmp_path: Path) -> None:
    admin = "rbk_admin_for_cli_test"
    settings = Settings(sqlite_path=str(tmp_path / "rb.db"), database_url=None, redis_url=None,
                        bootstrap_admin_key=admin, log_level="WARNING")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ServerThread(create_app(settings), "127.0.0.1", port):
        env = {"RUNBOOK_URL": url, "RUNBOOK_KEY": admin}
        result = runner.invoke(app, ["upload", str(EXAMPLES / "returns.xlsx")], env=env)
        assert result.exit_code == 0, result.output
        assert "returns version 1 (draft)" in result.output

        broken = tmp_path / "returns.csv"
        broken.write_text("Table,t\nTrigger,e\nHit policy,FIRST\n\nwhen order.total,then x\n"
                          "> abc,1\n")
        result = runner.invoke(app, ["upload", str(broken)], env=env)
        assert result.exit_code == 1
        assert "returns!A6" in result.output

        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as client:
            assert client.post("/v1/rulesets/returns/versions/1/publish",
                               json={"percent": 100}).status_code == 409  # needs approval
        events = tmp_path / "events.jsonl"
        sample = json.loads((EXAMPLES / "events.json").read_text())
        events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in sample))
        result = runner.invoke(app, ["import", str(events), "--batch", "4"], env=env)
        assert result.exit_code == 0, result.output
        assert f"{len(sample)} decided, 0 already known, 0 failed" in result.output
        result = runner.invoke(app, ["import", str(events)], env=env)
        assert f"0 decided, {len(sample)} already known, 0 failed" in result.output
