"""Hostile and broken workbooks: each is refused with a clear `tables.WorkbookError` whose
problems name the sheet and cell where that applies, within bounded time and memory; nothing
else (no openpyxl, zipfile or XML exception) escapes, and nothing hangs or inflates a bomb.

Expectations documented here (SPEC §2 and the lead's reader):
- a formula cell uses the value Excel cached with it (with a warning naming the cell); a formula
  without a cached value is an error naming the cell;
- dates typed into Excel are stored as serial numbers with a date format and are read as dates;
- merged cells in the rule area are an error naming the merged range;
- limits (file size, inflated size, rows, columns, sheets, cell length) are refused early.
"""

from __future__ import annotations

import io
import json
import random
import resource
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest

import tables
from tables import Problem

from .workbooks import (
    PNG_1PX,
    SHEET_DATA_CLOSE,
    SHEET_DATA_OPEN,
    SHEET_HEAD,
    SHEET_TAIL,
    Formula,
    Member,
    Serial,
    cases_sheet,
    make_xlsx,
    package_members,
    raw_xlsx,
    repeated_member,
    sheet_rows,
    sheet_xml,
    zip_bomb_xlsx,
    zip_bytes,
)

MB = 2**20
# Loose bounds: they catch "inflated the bomb" or "read a million rows", not slowness.
MAX_SECONDS = 20.0
MAX_PYTHON_PEAK = 300 * MB
MAX_RSS_GROWTH = 600 * MB

HEADER = 5  # sheet_rows without description/risk: meta rows 1-3, blank row 4, header row 5
FIRST_RULE = 6


def _max_rss() -> int:
    """Peak RSS of this process in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@contextmanager
def bounded(
    seconds: float = MAX_SECONDS,
    python_peak: int | None = MAX_PYTHON_PEAK,
    rss_growth: int = MAX_RSS_GROWTH,
) -> Iterator[None]:
    """Wall time, peak Python allocations (tracemalloc; None skips it, as it slows parsing
    down about threefold) and growth of the process's peak RSS (which also sees C allocations
    such as zlib's and expat's) stay below loose bounds."""
    rss_before = _max_rss()
    if python_peak is not None:
        tracemalloc.start()
    start = time.perf_counter()
    peak = 0
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        if python_peak is not None:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        grown = _max_rss() - rss_before
    assert elapsed < seconds, f"took {elapsed:.1f} s (bound {seconds} s)"
    if python_peak is not None:
        assert peak < python_peak, f"Python allocations peaked at {peak / MB:.0f} MB"
    assert grown < rss_growth, f"peak RSS grew by {grown / MB:.0f} MB"


def refused(data: bytes, **bounds: Any) -> list[Problem]:
    """Loads `data`, expecting a WorkbookError within bounds; returns its problems."""
    with bounded(**bounds):
        with pytest.raises(tables.WorkbookError) as caught:
            tables.load_workbook(data)
    problems = caught.value.problems
    assert problems, "a WorkbookError must carry at least one problem"
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.message.strip(), f"empty message in {problem!r}"
    assert str(caught.value).strip()
    return problems


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def text(problems: list[Problem]) -> str:
    return " | ".join(str(p) for p in problems).lower()


def find(problems: list[Problem], *, sheet: str | None = None, cell: str | None = None) -> Problem:
    for problem in problems:
        if (sheet is None or problem.sheet == sheet) and (cell is None or problem.cell == cell):
            return problem
    raise AssertionError(f"no problem at {sheet}!{cell}; got: {[str(p) for p in problems]}")


def simple_table(name: str = "policy", trigger: str = "order.placed") -> list[list[Any]]:
    return sheet_rows(
        name,
        trigger,
        "FIRST",
        ["when order.total", "then outcome", "do hold_order"],
        ["> 30000", '"hold"', 'reason="高額注文"'],
        ["-", '"ok"', "-"],
    )


def a_valid_xlsx() -> bytes:
    return make_xlsx({"policy": simple_table()})


def test_a_valid_workbook_loads_within_the_bounds() -> None:
    """The yardstick for everything below: the same bounds, a workbook that is fine."""
    with bounded():
        rs = tables.load_workbook(a_valid_xlsx())
    assert rs.decide("order.placed", {"order": {"total": 40000}}).outputs == {"outcome": "hold"}


# --------------------------------------------------------------------------- not a workbook


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


NOT_WORKBOOKS = {
    "random bytes": random.Random(1).randbytes(64 * 1024),
    "a PNG image": PNG_1PX,
    "an empty file": b"",
    "a CSV file": b"when order.total,then outcome\n> 30000,hold\n",
    "a zip that is not xlsx": _zip({"hello.txt": b"hello", "data/1.json": b"{}"}),
    "a .docx": _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
    "an empty zip": _zip({}),
    "a truncated xlsx": a_valid_xlsx()[:3000],
    "xl/workbook.xml that is not XML": _zip(
        {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"\x00\x01 not xml"}
    ),
    "a sheet part that is not XML": raw_xlsx({"policy": b"<worksheet><sheetData><row"}),
}


def _bad_crc_xlsx() -> bytes:
    """A real xlsx whose sheet member's stored CRC does not match its data."""
    good = Member.of("sheet", sheet_xml(simple_table()))
    return raw_xlsx({"policy": Member(good.name, good.deflated, good.crc ^ 0xFFFF, good.size)})


NOT_WORKBOOKS["a zip member with a bad CRC"] = _bad_crc_xlsx()


@pytest.mark.parametrize("kind", list(NOT_WORKBOOKS))
def test_not_a_workbook(kind: str) -> None:
    problems = refused(NOT_WORKBOOKS[kind])
    assert errors(problems)


def test_not_a_workbook_through_load_by_content_type() -> None:
    with pytest.raises(tables.WorkbookError):
        tables.load(PNG_1PX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with pytest.raises(tables.WorkbookError):
        tables.load(b"\x89PNG", "image/png")


# --------------------------------------------------------------------------- zip bombs


def test_zip_bomb_is_refused_without_inflating_it() -> None:
    """One sheet part inflates to 1.1 GB of whitespace (1.1 MB on disk)."""
    data = zip_bomb_xlsx(1_100 * MB)
    assert len(data) < 3 * MB
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert max(i.file_size for i in archive.infolist()) > 1_000 * MB
    problems = refused(data, seconds=10, rss_growth=300 * MB)
    assert any(w in text(problems) for w in ("bomb", "inflat", "uncompress", "too large", "limit"))


def test_zip_bomb_whose_headers_lie_about_its_size() -> None:
    """Headers claim 10 KB; the data inflates to 1.1 GB. Counting real bytes catches it."""
    data = zip_bomb_xlsx(1_100 * MB, declared_size=10_000)
    refused(data, seconds=10, rss_growth=300 * MB)


def test_many_members_each_below_the_limit_but_together_a_bomb() -> None:
    """30 sheets of 100 MB each: none alone is over a per-member limit, together 3 GB."""
    sheets = {
        f"s{i}": repeated_member(
            "sheet", SHEET_HEAD + SHEET_DATA_OPEN, b" " * MB, 100, SHEET_DATA_CLOSE + SHEET_TAIL
        )
        for i in range(30)
    }
    refused(raw_xlsx(sheets), seconds=MAX_SECONDS, rss_growth=300 * MB)


def test_billion_laughs_in_a_sheet_part() -> None:
    """XML entity expansion inside a sheet: refused (or at least not expanded without bound)."""
    entities = (
        '<!ENTITY a0 "laugh laugh laugh laugh laugh laugh laugh laugh laugh laugh">'
        + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    )
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a9;</t></is></c></row>'
        "</sheetData></worksheet>"
    ).encode()
    refused(raw_xlsx({"policy": xml}), rss_growth=300 * MB)


def test_a_file_over_the_upload_size_limit() -> None:
    """40 MB of incompressible bytes inside an otherwise valid package."""
    noise = Member.of("xl/media/noise.bin", random.Random(2).randbytes(40 * MB))
    members = package_members(["policy"])
    members.append(Member.of("xl/worksheets/sheet1.xml", sheet_xml(simple_table())))
    refused(zip_bytes([*members, noise]))


# --------------------------------------------------------------------------- size limits


def _million_row_chunks(rows: int, dimension: bool) -> Iterator[bytes]:
    meta = sheet_rows("big", "order.placed", "FIRST", ["when order.total", "then outcome"])
    head = SHEET_HEAD
    if dimension:  # Excel always writes one; openpyxl scans the whole sheet when it is missing
        head += f'<dimension ref="A1:B{FIRST_RULE + rows - 1}"/>'.encode()
    yield head + SHEET_DATA_OPEN
    yield sheet_xml(meta)[len(SHEET_HEAD + SHEET_DATA_OPEN) : -len(SHEET_DATA_CLOSE + SHEET_TAIL)]
    batch: list[str] = []
    for number in range(FIRST_RULE, FIRST_RULE + rows):
        batch.append(
            f'<row r="{number}"><c r="A{number}"><v>{number}</v></c>'
            f'<c r="B{number}" t="inlineStr"><is><t>"r{number}"</t></is></c></row>'
        )
        if len(batch) == 10_000:
            yield "".join(batch).encode()
            batch.clear()
    yield "".join(batch).encode()
    yield SHEET_DATA_CLOSE + SHEET_TAIL


@pytest.mark.parametrize("dimension", [True, False], ids=["as Excel writes it", "no dimension"])
def test_a_million_rows(dimension: bool) -> None:
    """1,000,000 rule rows (about 100 MB of sheet XML, 14 MB zipped), streamed into the zip."""
    member = Member.streamed("sheet", _million_row_chunks(1_000_000, dimension), level=6)
    data = raw_xlsx({"big": member})
    with bounded(python_peak=None):
        with pytest.raises(tables.WorkbookError) as caught:
            tables.load_workbook(data)
    problem = find(caught.value.problems, sheet="big")
    assert "row" in problem.message.lower()


def test_a_stray_cell_in_the_last_row_of_the_sheet() -> None:
    """A valid table and one value in row 1,048,576: bounded work whatever the outcome (the
    reader must not walk a million empty rows cell by cell)."""
    rows = simple_table()
    body = sheet_xml(rows)[: -len(SHEET_DATA_CLOSE + SHEET_TAIL)]
    xml = body + b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    xml += SHEET_DATA_CLOSE + SHEET_TAIL
    with bounded(python_peak=None):
        try:
            tables.load_workbook(raw_xlsx({"policy": xml}))
        except tables.WorkbookError as error:
            find(error.problems, sheet="policy")


def test_a_dimension_that_claims_the_whole_grid() -> None:
    """<dimension ref="A1:XFD1048576"/> on a small valid table: loads, and quickly."""
    rows = simple_table()
    xml = sheet_xml(rows).replace(
        SHEET_DATA_OPEN, b'<dimension ref="A1:XFD1048576"/>' + SHEET_DATA_OPEN, 1
    )
    with bounded():
        rs = tables.load_workbook(raw_xlsx({"policy": xml}))
    assert rs.decide("order.placed", {"order": {"total": 40000}}).outputs == {"outcome": "hold"}


def test_16384_columns() -> None:
    """A header row across every column Excel has (A..XFD)."""
    header = ["when order.total", "then outcome"] + [f"when order.f{i}" for i in range(16_382)]
    rows = sheet_rows("wide", "order.placed", "FIRST", header, ["> 1", '"x"'])
    problems = refused(raw_xlsx({"wide": rows}), python_peak=None)
    problem = find(problems, sheet="wide")
    assert "column" in problem.message.lower()


def test_a_header_far_to_the_right_is_not_silently_dropped() -> None:
    """Columns A..C are a table; a `when` header at XFD changes what the rules mean. Ignoring
    it would decide differently from what the sheet shows: an error (or at least a warning)
    must name it."""
    rows = simple_table()
    gap = [None] * (16_384 - 1 - len(rows[HEADER - 1]))
    rows[HEADER - 1] = [*rows[HEADER - 1], *gap, "when customer.orders"]
    rows[FIRST_RULE - 1] = [*rows[FIRST_RULE - 1], *gap, "1"]
    with bounded():
        try:
            rs = tables.load_workbook(raw_xlsx({"policy": rows}))
        except tables.WorkbookError as error:
            find(error.problems, sheet="policy")
            return
    flagged = [w for w in rs.warnings if w.sheet == "policy" and "XFD" in w.cell]
    headers = [c.name for t in rs.tables for c in t.columns]
    assert flagged or "customer.orders" in headers, (
        "the header at XFD5 was silently ignored: "
        f"columns {headers}, warnings {[str(w) for w in rs.warnings]}"
    )


def test_too_many_sheets() -> None:
    # Built by hand: openpyxl would take a while to write 1,000 sheets.
    data = raw_xlsx({f"t{i}": sheet_xml(simple_table(f"t{i}")) for i in range(1_000)})
    problems = refused(data)
    assert "sheet" in text(problems)


def test_a_huge_cell() -> None:
    rows = simple_table()
    rows[FIRST_RULE - 1][2] = "reason=" + '"' + "あ" * 200_000 + '"'
    problems = refused(make_xlsx({"policy": rows}))
    find(problems, sheet="policy", cell=f"C{FIRST_RULE}")


def test_many_rules_at_once_are_a_clear_limit_not_a_hang() -> None:
    """50,000 rule rows written normally: refused (or decided) quickly, never hung."""
    rules = [[f'"SKU{i}"', f'"r{i}"'] for i in range(50_000)]
    rows = sheet_rows("skus", "order.placed", "FIRST", ["when order.sku", "then outcome"], *rules)
    data = raw_xlsx({"skus": rows})
    with bounded(seconds=60, python_peak=None):
        try:
            rs = tables.load_workbook(data)
        except tables.WorkbookError as error:
            find(error.problems, sheet="skus")
            return
    assert rs.decide("order.placed", {"order": {"sku": "SKU49999"}}).outputs == {
        "outcome": "r49999"
    }


# --------------------------------------------------------------------------- cell contents


def _formula_sheet(cached: Any) -> bytes:
    rows = sheet_rows(
        "calc",
        "order.placed",
        "FIRST",
        ["when order.total", "then outcome"],
        [Formula("20000+10000", cached), '"exact"'],
        ["-", '"other"'],
    )
    return raw_xlsx({"calc": rows})


def test_a_formula_with_a_cached_value_uses_that_value() -> None:
    with bounded():
        rs = tables.load_workbook(_formula_sheet(30000))
    assert rs.decide("order.placed", {"order": {"total": 30000}}).outputs == {"outcome": "exact"}
    assert rs.decide("order.placed", {"order": {"total": 1}}).outputs == {"outcome": "other"}
    # Ops should know the cell is a formula whose saved value was used.
    find(rs.warnings, sheet="calc", cell=f"A{FIRST_RULE}")


def test_a_formula_with_a_cached_text_value() -> None:
    rows = sheet_rows(
        "calc",
        "order.placed",
        "FIRST",
        ["when order.kind", "then outcome"],
        [Formula('CONCAT("""", "gift", """")', '"gift"'), '"wrap"'],
    )
    rs = tables.load_workbook(raw_xlsx({"calc": rows}))
    assert rs.decide("order.placed", {"order": {"kind": "gift"}}).outputs == {"outcome": "wrap"}


def test_a_formula_without_a_cached_value_is_an_error_naming_the_cell() -> None:
    problems = refused(_formula_sheet(None))
    problem = find(errors(problems), sheet="calc", cell=f"A{FIRST_RULE}")
    assert "formula" in problem.message.lower()


def test_merged_cells_in_the_rule_area_are_an_error_naming_the_range() -> None:
    rows = sheet_rows(
        "merged",
        "return.requested",
        "FIRST",
        ["when return.reason", "when order.total", "then outcome"],
        ['"damaged"', "> 100", '"refund"'],
        [None, "<= 100", '"refund_small"'],
        ["-", "-", '"reject"'],
    )
    merged_range = f"A{FIRST_RULE}:A{FIRST_RULE + 1}"
    problems = refused(make_xlsx({"merged": rows}, merged={"merged": [merged_range]}))
    assert any(
        p.sheet == "merged" and (merged_range in p.cell or merged_range in p.message)
        for p in errors(problems)
    ), [str(p) for p in problems]


def test_merged_cells_in_the_header_row_are_an_error() -> None:
    rows = sheet_rows(
        "merged",
        "order.placed",
        "FIRST",
        ["when order.total", None, "then outcome"],
        ["> 1", "-", '"x"'],
    )
    merged_range = f"A{HEADER}:B{HEADER}"
    problems = refused(make_xlsx({"merged": rows}, merged={"merged": [merged_range]}))
    find(problems, sheet="merged")


def test_a_merged_description_is_fine() -> None:
    """Merging cells above the header (a long description) is only layout."""
    rows = sheet_rows(
        "policy",
        "order.placed",
        "FIRST",
        ["when order.total", "then outcome"],
        ["> 1", '"x"'],
        description="A long description spread over several merged cells",
    )
    data = make_xlsx({"policy": rows}, merged={"policy": ["B4:D4"]})
    rs = tables.load_workbook(data)
    assert rs.tables[0].description.startswith("A long description")


def _dated(cell: Any) -> list[list[Any]]:
    return sheet_rows(
        "sale",
        "order.placed",
        "FIRST",
        ["when order.placed_on", "then campaign"],
        [cell, '"new_year"'],
        ["-", '"none"'],
    )


@pytest.mark.parametrize("how", ["serial number with a date format (by hand)", "openpyxl date"])
def test_dates_stored_as_serial_numbers_are_read_as_dates(how: str) -> None:
    day = date(2026, 1, 2)
    if how.startswith("serial"):
        assert Serial.of(day).value == 46024
        data = raw_xlsx({"sale": _dated(Serial.of(day))})
    else:
        data = make_xlsx({"sale": _dated(datetime(2026, 1, 2))})
    rs = tables.load_workbook(data)
    assert "2026-01-02" in rs.tables[0].rules[0].cells[0]
    assert rs.decide("order.placed", {"order": {"placed_on": "2026-01-02"}}).outputs == {
        "campaign": "new_year"
    }
    assert rs.decide("order.placed", {"order": {"placed_on": "2026-01-03"}}).outputs == {
        "campaign": "none"
    }
    # Never the serial number read as a plain number.
    assert rs.decide("order.placed", {"order": {"placed_on": 46024}}).outputs == {
        "campaign": "none"
    }


def test_a_number_cell_with_a_date_format_in_a_then_column() -> None:
    rows = sheet_rows(
        "sale",
        "order.placed",
        "FIRST",
        ["when order.total", "then ends_on"],
        ["-", Serial.of(date(2026, 12, 31))],
    )
    rs = tables.load_workbook(raw_xlsx({"sale": rows}))
    assert rs.decide("order.placed", {"order": {"total": 1}}).outputs["ends_on"] == "2026-12-31"


# --------------------------------------------------------------------------- structure


def test_a_sheet_without_a_header_row_names_the_sheet() -> None:
    rows = [["Table", "refunds"], ["Trigger", "refund.initiated"], ["Hit policy", "FIRST"], []]
    rows += [["amount", "outcome"], ["> 100", "review"]]
    problems = refused(make_xlsx({"refunds": rows, "policy": simple_table()}))
    problem = find(errors(problems), sheet="refunds")
    assert "header" in problem.message.lower()


def test_a_cell_with_a_syntax_error_names_sheet_and_cell() -> None:
    rows = sheet_rows(
        "policy",
        "order.placed",
        "FIRST",
        ["when order.total", "when customer.orders", "then outcome"],
        ["> 30000", "-", '"hold"'],
        ["-", "[1..", '"first"'],
        ["-", "-", '"ok"'],
    )
    problems = refused(make_xlsx({"policy": rows}))
    cell = f"B{FIRST_RULE + 1}"
    find(errors(problems), sheet="policy", cell=cell)
    assert f"policy!{cell}" in str(find(problems, sheet="policy", cell=cell))


def test_every_broken_cell_is_reported_not_only_the_first() -> None:
    rows = sheet_rows(
        "policy",
        "order.placed",
        "FIRST",
        ["when order.total", "then outcome"],
        ['"abc" +', '"a"'],
        ["> > 1", '"b"'],
        ["-", "min("],
    )
    problems = refused(make_xlsx({"policy": rows}))
    cells = {p.cell for p in errors(problems) if p.sheet == "policy"}
    assert {f"A{FIRST_RULE}", f"A{FIRST_RULE + 1}", f"B{FIRST_RULE + 2}"} <= cells


def test_unknown_action() -> None:
    rows = sheet_rows(
        "policy",
        "order.placed",
        "FIRST",
        ["when order.total", "then outcome", "do teleport"],
        ["> 1", '"x"', "x"],
    )
    problems = refused(make_xlsx({"policy": rows}))
    problem = find(errors(problems), sheet="policy", cell=f"C{HEADER}")
    assert "teleport" in problem.message


def test_unknown_action_parameter() -> None:
    rows = sheet_rows(
        "policy",
        "return.requested",
        "FIRST",
        ["when order.total", "then outcome", "do refund"],
        ["> 1", '"x"', 'amount=order.total, colour="red"'],
    )
    problems = refused(make_xlsx({"policy": rows}))
    problem = find(errors(problems), sheet="policy", cell=f"C{FIRST_RULE}")
    assert "colour" in problem.message


def test_a_missing_required_action_parameter() -> None:
    rows = sheet_rows(
        "policy",
        "order.placed",
        "FIRST",
        ["when order.total", "then outcome", "do webhook"],
        ["> 1", '"x"', 'body="hi"'],
    )
    problems = refused(make_xlsx({"policy": rows}))
    problem = find(errors(problems), sheet="policy", cell=f"C{FIRST_RULE}")
    assert "url" in problem.message


def test_priority_policy_without_a_priority_column() -> None:
    rows = sheet_rows(
        "risk",
        "order.placed",
        "PRIORITY",
        ["when order.total", "then risk_level"],
        ["> 30000", '"high"'],
        ["-", '"low"'],
    )
    problems = refused(make_xlsx({"risk": rows}))
    problem = find(errors(problems), sheet="risk")
    assert "priority" in problem.message.lower()


def test_a_cycle_between_tables() -> None:
    a = sheet_rows(
        "a", "order.placed", "FIRST", ["when b_out", "then a_out"], ['"x"', '"y"'], ["-", '"z"']
    )
    b = sheet_rows(
        "b", "order.placed", "FIRST", ["when a_out", "then b_out"], ['"y"', '"x"'], ["-", '"w"']
    )
    problems = refused(make_xlsx({"a": a, "b": b}))
    assert "cycle" in text(errors(problems))
    assert {p.sheet for p in errors(problems)} & {"a", "b"}


def test_a_table_reading_its_own_output() -> None:
    a = sheet_rows("a", "order.placed", "FIRST", ["when a_out", "then a_out"], ['"x"', '"y"'])
    problems = refused(make_xlsx({"a": a}))
    find(errors(problems), sheet="a")


def test_an_output_produced_by_two_tables() -> None:
    a = sheet_rows(
        "a", "order.placed", "FIRST", ["when order.total", "then risk_level"], ["-", "1"]
    )
    b = sheet_rows(
        "b", "order.placed", "FIRST", ["when order.total", "then risk_level"], ["-", "2"]
    )
    problems = refused(make_xlsx({"a": a, "b": b}))
    assert "risk_level" in text(errors(problems))
    assert {p.sheet for p in errors(problems)} & {"a", "b"}


def test_a_bare_name_that_no_table_outputs() -> None:
    rows = sheet_rows(
        "gate", "order.placed", "FIRST", ["when risk_levle", "then gate"], ['"high"', '"hold"']
    )
    problems = refused(make_xlsx({"gate": rows, "policy": simple_table()}))
    problem = find(errors(problems), sheet="gate", cell=f"A{HEADER}")
    assert "risk_levle" in problem.message


def test_a_dotted_path_typo_is_a_warning_with_a_suggestion() -> None:
    rows = sheet_rows(
        "policy",
        "order.placed",
        "FIRST",
        ["when ordr.total", "then outcome"],
        ["> 30000", '"hold"'],
        ["-", '"ok"'],
    )
    rs = tables.load_workbook(make_xlsx({"policy": rows}))
    warning = find(rs.warnings, sheet="policy", cell=f"A{HEADER}")
    assert warning.severity == "warning"
    assert "ordr.total" in warning.message and "order.total" in warning.message.replace(
        "ordr.total", ""
    )


def test_duplicate_table_names() -> None:
    problems = refused(make_xlsx({"one": simple_table("same"), "two": simple_table("same")}))
    assert "same" in text(errors(problems))


def test_unknown_hit_policy_names_the_cell() -> None:
    rows = sheet_rows("policy", "order.placed", "FRIST", ["when order.total", "then x"], ["-", "1"])
    problems = refused(make_xlsx({"policy": rows}))
    find(errors(problems), sheet="policy", cell="B3")


def test_a_table_without_a_trigger() -> None:
    rows = [["Table", "policy"], ["Hit policy", "FIRST"], [], ["when order.total", "then x"]]
    rows.append(["-", "1"])
    problems = refused(make_xlsx({"policy": rows}))
    assert "trigger" in text(errors(problems))


def test_a_failing_tests_case_is_reported_not_raised() -> None:
    cases = cases_sheet(
        (
            {"type": "order.placed", "data": {"order": {"total": 40000}}},
            {"outputs": {"outcome": "hold"}},
        ),
        (
            {"type": "order.placed", "data": {"order": {"total": 100}}},
            {"outputs": {"outcome": "hold"}},
        ),
    )
    rs = tables.load_workbook(make_xlsx({"policy": simple_table(), "_tests": cases}))
    failures = rs.run_tests()
    assert len(failures) == 1
    assert failures[0].sheet == "_tests"
    assert "3" in failures[0].cell  # the third row of _tests (header, case 1, case 2)
    assert "hold" in failures[0].message and "ok" in failures[0].message


def test_a_tests_case_that_is_not_json() -> None:
    cases = [["event", "expect"], ["{not json", "{}"]]
    problems = refused(make_xlsx({"policy": simple_table(), "_tests": cases}))
    problem = find(errors(problems), sheet="_tests")
    assert "2" in problem.cell


def test_a_tests_case_for_an_event_nothing_listens_to() -> None:
    """An event type no table listens to decides nothing; a case expecting outputs fails."""
    cases = cases_sheet(
        (
            {"type": "order.placd", "data": {"order": {"total": 40000}}},
            {"outputs": {"outcome": "hold"}},
        ),
    )
    rs = tables.load_workbook(make_xlsx({"policy": simple_table(), "_tests": cases}))
    assert len(rs.run_tests()) == 1


def test_errors_carry_sheet_and_cell_as_json() -> None:
    rows = sheet_rows(
        "policy", "order.placed", "FIRST", ["when order.total", "then x"], ['"a" +', "1"]
    )
    problems = refused(make_xlsx({"policy": rows}))
    encoded = json.loads(json.dumps([p.to_dict() for p in problems]))
    assert {"sheet": "policy", "cell": f"A{FIRST_RULE}"}.items() <= encoded[0].items()
