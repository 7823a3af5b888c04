"""Writes examples/returns.xlsx: a Japanese online shop's return, cancellation and order-risk
policy as a Runbook workbook (SPEC §2). This script is the reviewable source of the workbook;
run it after editing and commit both:

    .venv/bin/python examples/make_returns.py            # writes examples/returns.xlsx
    .venv/bin/python examples/make_returns.py -o out.xlsx

The output is byte-for-byte deterministic: fixed document dates and zip timestamps.

Sheets (tables in the order ops read them; Runbook orders them by dependency):

- return_policy   return.requested   FIRST     Risk: high   damaged → refund + RMA + Slack;
                                                             within 30 days (+ carrier delay)
                                                             → refund; over ¥30,000 → manager
                                                             approves the refund; else reject
- cancellation    cancel.requested   FIRST     Risk: high   2nd cancellation in 30 days →
                                                             escalate to a manager; unfulfilled
                                                             → cancel with refund; shipped → reject
- order_risk      order.placed       PRIORITY               risk_level from total, fraud score,
                                                             first orders; holds big orders
- fulfilment      order.placed       FIRST                  reads risk_level (forward chaining)
- order_tags      order.placed       COLLECT                tags, one per matching row
- shipment_delay  shipment.delayed   FIRST                  apology campaign, carrier, ticket
- follow_up       shipment.delivered FIRST                  campaign 3 days after delivery
- _tests          8+ cases that must pass before a version can be published
- _readme         notes for people (ignored by Runbook: the name starts with "_")
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

HERE = Path(__file__).resolve().parent
OUT = HERE / "returns.xlsx"
FIXED_DATE = datetime(2026, 11, 1, 9, 0, 0)
ZIP_DATE = (2026, 11, 1, 9, 0, 0)

Row = list[Any]


def table(
    name: str,
    trigger: str,
    policy: str,
    description: str,
    header: Row,
    rules: list[Row],
    risk: str | None = None,
) -> list[Row]:
    meta: list[Row] = [
        ["Table", name],
        ["Trigger", trigger],
        ["Hit policy", policy],
        ["Description", description],
    ]
    if risk:
        meta.append(["Risk", risk])
    return [*meta, [], header, *rules]


WITHIN = "<= 30 + delivery.delay_days"
LATE = "> 30 + delivery.delay_days"

RETURN_POLICY = table(
    "return_policy",
    "return.requested",
    "FIRST",
    "Returns: damaged items are refunded without sending them back; other returns within "
    "30 days of delivery (plus any carrier delay) are refunded; large orders need a manager.",
    [
        "when return.reason",
        "when delivery.days_since",
        "when order.total",
        "then outcome",
        "do refund",
        "do create_rma",
        "do create_return_label",
        "do post_slack",
        "note",
    ],
    [
        [
            '"damaged", "defective", "破損", "初期不良"',
            "-",
            "-",
            '"refund"',
            'amount=order.total, reason="damaged"',
            'carrier="yamato"',
            "-",
            'channel="#returns", text="破損・初期不良: 返送不要で全額返金"',
            "破損・初期不良は写真確認のみで全額返金 (返送不要)",
        ],
        [
            '"wrong_item", "誤配送"',
            WITHIN,
            "-",
            '"refund"',
            'amount=order.total, reason="wrong_item"',
            'carrier="yamato"',
            'carrier="yamato"',
            "-",
            "誤配送: 当社負担で返送、全額返金",
        ],
        [
            "-",
            WITHIN,
            "<= 30000",
            '"refund"',
            "amount=order.total, restock=true",
            "-",
            'carrier="yamato"',
            "-",
            "配達から30日以内 (配送遅延日数を加算) は返金",
        ],
        [
            "-",
            "-",
            "> 30000",
            '"review"',
            'amount=order.total, approval="manager"',
            "-",
            "-",
            'channel="#review", text="¥30,000超の返品: マネージャー承認待ち"',
            "¥30,000超はマネージャーが承認してから返金",
        ],
        ["-", "-", "-", '"reject"', "-", "-", "-", "-", "期限切れ: 返品不可"],
    ],
    risk="high",
)

CANCELLATION = table(
    "cancellation",
    "cancel.requested",
    "FIRST",
    "Cancellations: a second cancellation within 30 days goes to a manager; orders not yet "
    "shipped are cancelled and refunded; shipped orders must be returned instead.",
    [
        "when customer.cancellations_30d",
        "when order.fulfillment_status",
        "then cancel_outcome",
        "do escalate",
        "do cancel_order",
        "do post_slack",
        "note",
    ],
    [
        [
            ">= 2",
            "-",
            '"escalate"',
            'to="manager", note="30日以内に2回目以上のキャンセル"',
            "-",
            'channel="#cs-escalations"',
            "繰り返しのキャンセルはマネージャー判断",
        ],
        [
            "-",
            '"unfulfilled", null',
            '"cancel"',
            "-",
            'reason="customer_request", refund=true, restock=true',
            "-",
            "未発送: キャンセルして全額返金",
        ],
        [
            "-",
            '"partial"',
            '"review"',
            'to="cs_lead", note="一部発送済みの注文"',
            "-",
            'channel="#cs"',
            "一部発送済み: CSリーダーが対応",
        ],
        ["-", '"fulfilled"', '"reject"', "-", "-", "-", "発送済み: 返品手続きを案内"],
        ["-", "-", '"review"', 'to="cs_lead"', "-", "-", "想定外のステータス"],
    ],
    risk="high",
)

ORDER_RISK = table(
    "order_risk",
    "order.placed",
    "PRIORITY",
    "Order risk: the highest-priority matching row sets risk_level; big orders and fraud "
    "signals are held for review.",
    [
        "when order.total",
        "when fraud.score",
        "when customer.orders",
        "when order.payment_method",
        "then risk_level",
        "do hold_order",
        "do post_slack",
        "priority",
        "note",
    ],
    [
        [
            "-",
            ">= 80",
            "-",
            "-",
            '"high"',
            'reason="不正スコア80以上"',
            'channel="#fraud", text="不正の疑い: 注文を保留"',
            90,
            "決済代行の不正スコア",
        ],
        [
            "> 30000",
            "-",
            "-",
            "-",
            '"high"',
            'reason="高額注文 (¥30,000超)"',
            'channel="#review", text="高額注文を保留しました"',
            50,
            "¥30,000超は確認してから出荷",
        ],
        [
            "-",
            "[50..80)",
            "-",
            '"cod", "bnpl", "後払い"',
            '"medium"',
            "-",
            'channel="#fraud"',
            40,
            "後払い・代引きで不正スコア中程度",
        ],
        [
            "> 15000",
            "-",
            "1",
            "-",
            '"medium"',
            "-",
            'channel="#review", text="初回注文・¥15,000超"',
            30,
            "初回注文の高額購入",
        ],
        ["-", "-", "-", "-", '"low"', "-", "-", 0, "それ以外"],
    ],
)

FULFILMENT = table(
    "fulfilment",
    "order.placed",
    "FIRST",
    "Fulfilment gate: reads risk_level from order_risk (forward chaining).",
    ["when risk_level", "then fulfilment", "do hold_inventory", "do create_ticket", "note"],
    [
        [
            '"high"',
            '"hold"',
            'reason="risk_level=high"',
            'subject="高リスク注文の確認", priority="high"',
            "在庫を確保したまま出荷を止める",
        ],
        [
            '"medium"',
            '"review"',
            "-",
            'subject="注文内容の確認", priority="normal"',
            "出荷前にCSが確認",
        ],
        ["-", '"release"', "-", "-", "通常出荷"],
    ],
)

ORDER_TAGS = table(
    "order_tags",
    "order.placed",
    "COLLECT",
    "Tags: every matching row adds its tag to the order (COLLECT: all matches, in row order).",
    [
        "when order.total",
        "when customer.orders",
        "when order.shipping_address.province",
        "when risk_level",
        "then tags",
        "do tag_order",
    ],
    [
        [">= 50000", "-", "-", "-", '"vip"', 'tags="vip"'],
        ["-", "1", "-", "-", '"first_order"', 'tags="first_order"'],
        ["-", "-", '"北海道", "沖縄県"', "-", '"remote_area"', 'tags="remote_area"'],
        ["-", "-", "-", '"high"', '"要確認"', 'tags="要確認"'],
    ],
)

SHIPMENT_DELAY = table(
    "shipment_delay",
    "shipment.delayed",
    "FIRST",
    "Carrier delays: apologise to the customer; long delays also go to the carrier and CS.",
    [
        "when shipment.delay_days",
        "then delay_response",
        "do notify_carrier",
        "do send_campaign",
        "do create_ticket",
    ],
    [
        [
            ">= 5",
            '"escalated"',
            'message="5日以上の遅延: 配送状況を確認してください"',
            'campaign="delay_apology_coupon"',
            'subject="配送遅延 5日以上", priority="high"',
        ],
        ["[2..5)", '"apology"', "-", 'campaign="delay_apology"', "-"],
        ["-", '"none"', "-", "-", "-"],
    ],
)

FOLLOW_UP = table(
    "follow_up",
    "shipment.delivered",
    "FIRST",
    "After delivery: a campaign three days later (first orders get a thank-you).",
    ["when customer.returns_90d", "when customer.orders", "then campaign", "do send_campaign"],
    [
        [">= 2", "-", '"none"', "-"],
        ["-", "1", '"first_order_thanks"', 'campaign="first_order_thanks", delay=3d'],
        ["-", "-", '"review_request"', 'campaign="review_request", delay=3d'],
    ],
)


def event(kind: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "data": data}, ensure_ascii=False)


def expect(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


TESTS: list[Row] = [
    ["event", "expect", "note"],
    [
        event(
            "return.requested",
            {
                "order": {"id": "#1001", "total": 12000},
                "return": {"reason": "破損"},
                "delivery": {"days_since": 45, "delay_days": 0},
            },
        ),
        expect(
            {
                "outputs": {"outcome": "refund"},
                "actions": [
                    {"action": "refund", "params": {"amount": 12000, "reason": "damaged"}},
                    {"action": "create_rma"},
                    {"action": "post_slack", "params": {"channel": "#returns"}},
                ],
            }
        ),
        "破損は期限に関係なく返金",
    ],
    [
        event(
            "return.requested",
            {
                "order": {"id": "#1002", "total": 8800},
                "return": {"reason": "size"},
                "delivery": {"days_since": 33, "delay_days": 4},
            },
        ),
        expect(
            {
                "outputs": {"outcome": "refund"},
                "actions": [{"action": "refund", "params": {"amount": 8800}}],
            }
        ),
        "配送遅延4日で期限が34日に延びる",
    ],
    [
        event(
            "return.requested",
            {
                "order": {"id": "#1003", "total": 45000},
                "return": {"reason": "changed_mind"},
                "delivery": {"days_since": 10, "delay_days": 0},
            },
        ),
        expect(
            {
                "outputs": {"outcome": "review"},
                "actions": [
                    {"action": "refund", "params": {"amount": 45000}, "approval": "manager"}
                ],
            }
        ),
        "¥30,000超はマネージャー承認",
    ],
    [
        event(
            "return.requested",
            {
                "order": {"id": "#1004", "total": 5000},
                "return": {"reason": "size"},
                "delivery": {"days_since": 40, "delay_days": 0},
            },
        ),
        expect({"outputs": {"outcome": "reject"}, "actions": []}),
        "期限切れ",
    ],
    [
        event(
            "cancel.requested",
            {
                "order": {"id": "#1005", "total": 6000, "fulfillment_status": "unfulfilled"},
                "customer": {"id": "c-77", "cancellations_30d": 2},
            },
        ),
        expect(
            {
                "outputs": {"cancel_outcome": "escalate"},
                "actions": [{"action": "escalate", "params": {"to": "manager"}}],
            }
        ),
        "30日以内の2回目のキャンセル",
    ],
    [
        event(
            "cancel.requested",
            {
                "order": {"id": "#1006", "total": 6000, "fulfillment_status": "unfulfilled"},
                "customer": {"id": "c-78", "cancellations_30d": 1},
            },
        ),
        expect(
            {
                "outputs": {"cancel_outcome": "cancel"},
                "actions": [{"action": "cancel_order", "params": {"refund": True}}],
            }
        ),
        "未発送はキャンセル・返金",
    ],
    [
        event(
            "order.placed",
            {
                "order": {
                    "id": "#1007",
                    "total": 52000,
                    "payment_method": "card",
                    "shipping_address": {"province": "東京都"},
                },
                "customer": {"id": "c-79", "orders": 5},
                "fraud": {"score": 10},
            },
        ),
        expect(
            {
                "outputs": {"risk_level": "high", "fulfilment": "hold", "tags": ["vip", "要確認"]},
                "actions": [
                    {"action": "hold_order"},
                    {"action": "post_slack", "params": {"channel": "#review"}},
                    {"action": "hold_inventory"},
                    {"action": "create_ticket", "params": {"priority": "high"}},
                    {"action": "tag_order", "params": {"tags": "vip"}},
                ],
            }
        ),
        "¥30,000超は保留",
    ],
    [
        event(
            "order.placed",
            {
                "order": {
                    "id": "#1008",
                    "total": 18000,
                    "payment_method": "card",
                    "shipping_address": {"province": "沖縄県"},
                },
                "customer": {"id": "c-80", "orders": 1},
                "fraud": {"score": 5},
            },
        ),
        expect(
            {
                "outputs": {
                    "risk_level": "medium",
                    "fulfilment": "review",
                    "tags": ["first_order", "remote_area"],
                }
            }
        ),
        "初回注文の高額購入は確認",
    ],
    [
        event(
            "order.placed",
            {
                "order": {"id": "#1009", "total": 40000, "payment_method": "bnpl"},
                "customer": {"id": "c-81", "orders": 3},
                "fraud": {"score": 85},
            },
        ),
        expect(
            {
                "outputs": {"risk_level": "high"},
                "actions": [{"action": "hold_order", "params": {"reason": "不正スコア80以上"}}],
            }
        ),
        "不正スコアが金額より優先 (priority 90 > 50)",
    ],
    [
        event(
            "shipment.delivered",
            {"order": {"id": "#1010"}, "customer": {"id": "c-82", "orders": 1, "returns_90d": 0}},
        ),
        expect(
            {
                "outputs": {"campaign": "first_order_thanks"},
                "actions": [
                    {
                        "action": "send_campaign",
                        "params": {"campaign": "first_order_thanks"},
                        "delay": 259200,
                    }
                ],
            }
        ),
        "配達3日後にお礼メール",
    ],
    [
        event("shipment.delayed", {"order": {"id": "#1011"}, "shipment": {"delay_days": 6}}),
        expect(
            {
                "outputs": {"delay_response": "escalated"},
                "actions": [
                    {"action": "notify_carrier"},
                    {"action": "send_campaign", "params": {"campaign": "delay_apology_coupon"}},
                    {"action": "create_ticket"},
                ],
            }
        ),
        "5日以上の遅延",
    ],
]

README: list[Row] = [
    ["Runbook example: returns, cancellations and order risk for a Japanese online shop"],
    [],
    ["Each sheet whose name does not start with _ is a decision table (SPEC §2)."],
    ["Rows 1-5: settings (Table, Trigger, Hit policy, Description, Risk); then a blank row;"],
    ["then the header row (when <path> / then <output> / do <action> / priority / note);"],
    ["then one rule per row until an empty row."],
    ["Amounts are in yen. Edit examples/make_returns.py, not this file, and regenerate it."],
]

SHEETS: dict[str, list[Row]] = {
    "return_policy": RETURN_POLICY,
    "cancellation": CANCELLATION,
    "order_risk": ORDER_RISK,
    "fulfilment": FULFILMENT,
    "order_tags": ORDER_TAGS,
    "shipment_delay": SHIPMENT_DELAY,
    "follow_up": FOLLOW_UP,
    "_tests": TESTS,
    "_readme": README,
}

BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
META_FILL = PatternFill("solid", fgColor="F2F2F2")
WRAP = Alignment(wrap_text=True, vertical="top")


def _width(value: Any) -> int:
    text = str(value)
    # Japanese characters are about twice as wide as Latin ones in Excel's default font.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def build_workbook() -> Workbook:
    book = Workbook()
    book.remove(book.active)
    for name, rows in SHEETS.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        _style(sheet, name, rows)
    props = book.properties
    props.creator = "Runbook examples"
    props.lastModifiedBy = "Runbook examples"
    props.title = "Returns, cancellations and order risk"
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    return book


def _style(sheet: Any, name: str, rows: list[Row]) -> None:
    if name == "_readme":
        sheet.column_dimensions["A"].width = 100
        sheet["A1"].font = Font(bold=True, size=13)
        return
    if name == "_tests":
        for cell in sheet[1]:
            cell.font = BOLD
            cell.fill = HEADER_FILL
        widths = {"A": 70, "B": 70, "C": 36}
        for letter, width in widths.items():
            sheet.column_dimensions[letter].width = width
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = WRAP
        sheet.freeze_panes = "A2"
        return
    header = next(
        i for i, row in enumerate(rows, start=1) if row and str(row[0]).startswith("when")
    )
    for number in range(1, header - 1):
        sheet.cell(number, 1).font = BOLD
        sheet.cell(number, 1).fill = META_FILL
    for cell in sheet[header]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
    widest = max(len(row) for row in rows)
    for index in range(1, widest + 1):
        cells = [row[index - 1] for row in rows[header - 1 :] if len(row) >= index]
        width = max((_width(v) for v in cells if v is not None), default=8)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 10), 60)
    # The description is long: let it spill over the empty cells to its right instead of
    # widening column B.
    sheet.freeze_panes = f"B{header + 1}"


def workbook_bytes() -> bytes:
    """The workbook as .xlsx bytes, identical on every run."""
    book = build_workbook()
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        # ExcelWriter instead of book.save(): save() stamps "modified" with the wall clock.
        ExcelWriter(book, archive).save()
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """Rewrites every member with a fixed timestamp and fixed attributes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            dst.writestr(fixed, src.read(info.filename), compresslevel=6)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = workbook_bytes()
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
