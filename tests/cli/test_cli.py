"""The `runbook` command as an ops person uses it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

import tables
from runbook.cli import app
from runbook.template import template_workbook

runner = CliRunner()


def write_template(tmp_path: Path) -> Path:
    path = tmp_path / "policy.xlsx"
    path.write_bytes(template_workbook())
    return path


def test_template_is_a_valid_workbook_whose_tests_pass(tmp_path: Path) -> None:
    rs = tables.load_workbook(write_template(tmp_path))
    assert rs.run_tests() == []
    assert rs.moves_money


def test_validate_ok_and_broken(tmp_path: Path) -> None:
    path = write_template(tmp_path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output

    book = openpyxl.load_workbook(path)
    book["return_policy"]["B9"] = '"abc"'
    book["return_policy"]["E7"] = "do teleport"
    broken = tmp_path / "broken.xlsx"
    book.save(broken)
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "return_policy!B9" in result.output and "expected a number" in result.output
    assert "return_policy!E7" in result.output and "teleport" in result.output


def test_test_and_decide(tmp_path: Path) -> None:
    path = write_template(tmp_path)
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 0 and "1 passed, 0 failed" in result.output
    event = {
        "type": "return.requested",
        "data": {
            "return": {"reason": "damaged"},
            "order": {"total": 12000},
            "delivery": {"days_since": 3, "delay_days": 0},
        },
    }
    result = runner.invoke(app, ["decide", str(path), "--event", json.dumps(event)])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["outputs"] == {"outcome": "refund"}
    assert decision["actions"][0]["params"] == {"amount": 12000}


def test_export(tmp_path: Path) -> None:
    path = write_template(tmp_path)
    out = tmp_path / "normalized.xlsx"
    assert runner.invoke(app, ["export", str(path), "-o", str(out)]).exit_code == 0
    assert tables.load_workbook(io.BytesIO(out.read_bytes())) == tables.load_workbook(path)


def test_diff_shows_an_inserted_row_as_one_added_row(tmp_path: Path) -> None:
    old = write_template(tmp_path)
    book = openpyxl.load_workbook(old)
    sheet = book["return_policy"]
    sheet.insert_rows(8)
    sheet["A8"], sheet["D8"] = '"lost"', '"refund"'
    new = tmp_path / "new.xlsx"
    book.save(new)
    result = runner.invoke(app, ["diff", str(old), str(new)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "~ table return_policy",
        '    + row return_policy!8: when return.reason "lost", then outcome "refund"',
    ]
