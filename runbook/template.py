"""A workbook template for ops: the layout, drop-downs for hit policies and actions, comments
on header cells explaining the cell language, and one example row per column kind."""

from __future__ import annotations

import io
import json
from datetime import datetime

from tables.catalogue import CATALOGUE
from tables.model import HIT_POLICIES

_POLICIES = [*HIT_POLICIES, "COLLECT SUM", "COLLECT MIN", "COLLECT MAX", "COLLECT COUNT"]

_WHEN_HELP = (
    "when <path>: a condition on the event.\n"
    "-  or empty: anything\n"
    '"damaged" or damaged: equal to that text\n'
    "42, true, null: equal to the value\n"
    '> 30000, <= 30 + delivery.delay_days, != "JP"\n'
    "[1..10], (1..10]: ranges\n"
    '"damaged", "defective": any of\n'
    'not("damaged"): none of\n'
    '>= date("2026-01-01"), 30d, 12h'
)
_THEN_HELP = 'then <name>: an output. A value ("refund", 42) or an expression (order.total * 0.5).'
_DO_HELP = (
    "do <action>: an action. Pick one from the drop-down.\n"
    "-: not done; x: done with defaults; or key=value, key=value\n"
    'Reserved: delay=3d (run later), approval="manager" (hold until approved).'
)
_PRIORITY_HELP = "priority: an integer; with hit policy PRIORITY the highest wins."


def template_workbook() -> bytes:
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "return_policy"
    bold = Font(bold=True)
    meta = [
        ("Table", "return_policy"),
        ("Trigger", "return.requested"),
        ("Hit policy", "FIRST"),
        ("Description", "Damaged items are refunded without a return"),
        ("Risk", "high"),
    ]
    for row, (key, value) in enumerate(meta, start=1):
        sheet.cell(row=row, column=1, value=key).font = bold
        sheet.cell(row=row, column=2, value=value)
    policies = DataValidation(type="list", formula1=f'"{",".join(_POLICIES)}"', allow_blank=False)
    policies.add("B3")
    sheet.add_data_validation(policies)

    header = [
        "when return.reason",
        "when order.total",
        "when delivery.days_since",
        "then outcome",
        "do refund",
        "do post_slack",
        "priority",
        "note",
    ]
    helps = [
        _WHEN_HELP,
        _WHEN_HELP,
        _WHEN_HELP,
        _THEN_HELP,
        _DO_HELP,
        _DO_HELP,
        _PRIORITY_HELP,
        "note: free text, shown in traces",
    ]
    fill = PatternFill("solid", fgColor="DDEBF7")
    for column, (text, help_text) in enumerate(zip(header, helps, strict=True), start=1):
        cell = sheet.cell(row=7, column=column, value=text)
        cell.font, cell.fill = bold, fill
        cell.comment = Comment(help_text, "Runbook", width=320, height=220)
        sheet.column_dimensions[cell.column_letter].width = 26
    actions = DataValidation(type="list", formula1=f'"{",".join("do " + a for a in CATALOGUE)}"')
    actions.add("E7:F7")
    sheet.add_data_validation(actions)
    rows = [
        [
            '"damaged", "defective"',
            "-",
            "<= 30 + delivery.delay_days",
            '"refund"',
            "amount=order.total",
            'channel="#returns"',
            1,
            "damaged or defective: refund",
        ],
        [
            "-",
            "> 30000",
            "-",
            '"review"',
            "-",
            'channel="#review", text="high value return"',
            2,
            "high value: a person looks",
        ],
        ["-", "-", "> 30 + delivery.delay_days", '"reject"', "-", "-", 3, "outside the window"],
    ]
    for offset, values in enumerate(rows):
        for column, example in enumerate(values, start=1):
            sheet.cell(row=8 + offset, column=column, value=example)
    sheet.freeze_panes = "A8"

    tests = book.create_sheet("_tests")
    tests.append(["event", "expect"])
    tests.append(
        [
            json.dumps(
                {
                    "type": "return.requested",
                    "data": {
                        "return": {"reason": "damaged"},
                        "order": {"total": 12000},
                        "delivery": {"days_since": 3, "delay_days": 0},
                    },
                }
            ),
            json.dumps({"outputs": {"outcome": "refund"}}),
        ]
    )
    for cell in tests[1]:
        cell.font = bold
    book.properties.created = book.properties.modified = datetime(2026, 1, 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
