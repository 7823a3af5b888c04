"""`runbook demo`, the first thing a new user runs, works end to end."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runbook.demo import run_demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
