"""`runbook demo`, the first thing a new user runs, works end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.demo import run_demo
from tests.fakes.server import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_demo_decides_the_sample_events_and_carries_out_the_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_demo(workbook=EXAMPLES / "returns.xlsx", events=EXAMPLES / "events.json",
             port=free_port(), action_port=free_port(), keep_running=False, data_dir=tmp_path)
    output = capsys.readouterr().out
    assert "approved by demo-approver" in output
    assert "refund → succeeded" in output  # the damaged item
    assert "refund → pending_approval" in output  # over ¥30,000: waits for a manager
    assert "escalate → succeeded" in output  # the second cancellation in 30 days
    assert "scheduled for" in output  # delay=3d
    assert "dead" not in output


def test_a_refund_reconciles_with_its_order_row_and_version_from_one_audit_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runbook import audit
    from runbook.db import make_engine, make_session_factory

    run_demo(workbook=EXAMPLES / "returns.xlsx", events=EXAMPLES / "events.json",
             port=free_port(), action_port=free_port(), keep_running=False, data_dir=tmp_path)
    capsys.readouterr()
    engine = make_engine(f"sqlite:///{tmp_path / 'runbook-demo.db'}")
    with make_session_factory(engine)() as session:
        audit.flush_pending(session=session)
        entries = audit.query(session=session, order_id="1001")
        refunds = [e for e in entries if e.kind == "action.succeeded"
                   and e.data.get("system") == "shopify" and "maximum" in e.data.get("data", {})]
        assert len(refunds) == 1
        refund = refunds[0]
        decided = [e for e in entries if e.kind == "event.decided" and e.run_id == refund.run_id]
        assert len(decided) == 1
        assert (refund.ruleset, refund.version) == (decided[0].ruleset, decided[0].version)
        assert decided[0].data["rows"] == ["return_policy!8"]
        assert refund.data["data"]["amount"] == "12800"
        assert audit.verify(session=session).ok
    engine.dispose()
