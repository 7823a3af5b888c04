"""Building test workbooks as .xlsx bytes.

Two ways:

- `make_xlsx({"sheet": rows})` writes through openpyxl, the way Excel-like tools write files
  (styles, merged ranges and real date cells included). `sheet_rows(...)` lays out one decision
  table the way SPEC §2 describes it.
- `raw_xlsx({"sheet": xml})` writes the zip parts by hand: for files openpyxl would never write
  (a million rows streamed without holding them, formulas with or without a cached value,
  hostile XML, zip members whose sizes lie). `zip_bytes` is the zip writer underneath; it takes
  members already deflated, so a 1 GB zip bomb costs a few megabytes and well under a second.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
from openpyxl.utils import get_column_letter

Rows = list[list[Any]]


# --------------------------------------------------------------------------- openpyxl


def sheet_rows(
    name: str,
    trigger: str,
    policy: str,
    header: list[str],
    *rules: list[Any],
    description: str | None = None,
    risk: str | None = None,
) -> Rows:
    """One decision-table sheet: metadata rows, a blank row, the header, the rules.

    Without description/risk the header is on row 5 and the first rule on row 6."""
    rows: Rows = [["Table", name], ["Trigger", trigger], ["Hit policy", policy]]
    if description is not None:
        rows.append(["Description", description])
    if risk is not None:
        rows.append(["Risk", risk])
    return [*rows, [], list(header), *[list(rule) for rule in rules]]


def header_row(rows: Rows) -> int:
    """The 1-based row number of the header in rows made by `sheet_rows`."""
    for number, row in enumerate(rows, start=1):
        if row and str(row[0]).split(" ", 1)[0].lower() in ("when", "then", "do"):
            return number
    raise ValueError("no header row")


def cases_sheet(*cases: tuple[dict[str, Any], dict[str, Any]]) -> Rows:
    """A `_tests` sheet: (event, expect) pairs written as JSON text."""
    import json

    return [["event", "expect"]] + [
        [json.dumps(event, ensure_ascii=False), json.dumps(expect, ensure_ascii=False)]
        for event, expect in cases
    ]


def make_xlsx(
    sheets: dict[str, Rows],
    *,
    merged: dict[str, list[str]] | None = None,
    number_formats: dict[str, dict[str, str]] | None = None,
) -> bytes:
    """sheets: name -> rows (lists of cell values; None or "" leaves a cell empty).

    merged: name -> ranges to merge ("A7:A8"); number_formats: name -> {cell: format}."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([None if value == "" else value for value in row])
        for cell_range in (merged or {}).get(name, []):
            sheet.merge_cells(cell_range)
        for ref, fmt in (number_formats or {}).get(name, {}).items():
            sheet[ref].number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- zip by hand


@dataclass(frozen=True)
class Member:
    """A zip member already deflated (raw deflate, wbits=-15)."""

    name: str
    deflated: bytes
    crc: int
    size: int  # the true inflated size
    declared_size: int | None = None  # what the headers claim, when they should lie

    @classmethod
    def of(cls, name: str, data: bytes) -> Member:
        return cls.streamed(name, [data])

    @classmethod
    def streamed(cls, name: str, chunks: Iterable[bytes], level: int = 6) -> Member:
        """Deflates chunks one at a time: the inflated data is never held whole."""
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        parts: list[bytes] = []
        crc = size = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            parts.append(packer.compress(chunk))
        parts.append(packer.flush())
        return cls(name, b"".join(parts), crc, size)


_DOS_DATE = ((2026 - 1980) << 9) | (11 << 5) | 1


def zip_bytes(members: list[Member]) -> bytes:
    """A plain zip archive (no zip64: each member must declare < 4 GiB)."""
    out = io.BytesIO()
    central = []
    for member in members:
        name = member.name.encode()
        declared = member.size if member.declared_size is None else member.declared_size
        offset = out.tell()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                0,
                8,
                0,
                _DOS_DATE,
                member.crc,
                len(member.deflated),
                declared,
                len(name),
                0,
            )
        )
        out.write(name)
        out.write(member.deflated)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                _DOS_DATE,
                member.crc,
                len(member.deflated),
                declared,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    start = out.tell()
    for entry in central:
        out.write(entry)
    size = out.tell() - start
    out.write(
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), size, start, 0)
    )
    return out.getvalue()


def repeated_member(
    name: str, head: bytes, filler: bytes, times: int, tail: bytes, declared_size: int | None = None
) -> Member:
    """head + filler * times + tail, deflated without ever building it: the filler is deflated
    once after a full flush (which makes every copy's compressed bytes identical) and the
    compressed block is repeated. A 1 MiB filler of spaces deflates to about 1 KiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(filler) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(filler) + packer.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "deflate blocks differ after a full flush"
    end = packer.compress(tail) + packer.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(filler, crc)
    crc = zlib.crc32(tail, crc)
    # `start` + `block` covers the first copy: the probe `again` was the second one.
    deflated = start + block * times + end
    size = len(head) + len(filler) * times + len(tail)
    return Member(name, deflated, crc, size, declared_size)


# --------------------------------------------------------------------------- xlsx parts

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHEET_HEAD = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN_NS}">'
).encode()
SHEET_DATA_OPEN = b"<sheetData>"
SHEET_DATA_CLOSE = b"</sheetData>"
SHEET_TAIL = b"</worksheet>"

DATE_STYLE = 1  # cellXfs index of the yyyy-mm-dd style in `styles_xml()`

_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{MAIN_NS}">
<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>
<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


@dataclass(frozen=True)
class Formula:
    """A formula cell; `cached` is the value Excel saved with it (None: none saved)."""

    formula: str
    cached: Any = None


@dataclass(frozen=True)
class Serial:
    """A number cell with a date format: how Excel stores dates (days since 1899-12-30)."""

    value: float

    @classmethod
    def of(cls, day: date | datetime) -> Serial:
        base = datetime(1899, 12, 30)
        moment = day if isinstance(day, datetime) else datetime(day.year, day.month, day.day)
        return cls((moment - base).total_seconds() / 86400)


def cell_xml(ref: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Formula):
        cached = ""
        kind = ""
        if value.cached is not None:
            if isinstance(value.cached, str):
                kind = ' t="str"'
                cached = f"<v>{escape(value.cached)}</v>"
            else:
                cached = f"<v>{value.cached}</v>"
        return f'<c r="{ref}"{kind}><f>{escape(value.formula)}</f>{cached}</c>'
    if isinstance(value, Serial):
        return f'<c r="{ref}" s="{DATE_STYLE}"><v>{value.value:g}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return (
        f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'
    )


def row_xml(number: int, values: list[Any]) -> str:
    cells = "".join(
        cell_xml(f"{get_column_letter(i + 1)}{number}", value) for i, value in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>' if cells else ""


def sheet_xml(rows: Rows, *, merged: list[str] = (), extra: str = "") -> bytes:  # type: ignore[assignment]
    body = "".join(row_xml(n, row) for n, row in enumerate(rows, start=1))
    merges = (
        f'<mergeCells count="{len(merged)}">'
        + "".join(f'<mergeCell ref="{m}"/>' for m in merged)
        + "</mergeCells>"
        if merged
        else ""
    )
    return SHEET_HEAD + f"<sheetData>{body}</sheetData>{merges}{extra}".encode() + SHEET_TAIL


def sheet_chunks(rows: Iterable[list[Any]], batch: int = 2000) -> Iterator[bytes]:
    """A sheet's XML in chunks, for sheets too big to build in memory."""
    yield SHEET_HEAD + SHEET_DATA_OPEN
    buffer: list[str] = []
    for number, row in enumerate(rows, start=1):
        buffer.append(row_xml(number, row))
        if len(buffer) >= batch:
            yield "".join(buffer).encode()
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode()
    yield SHEET_DATA_CLOSE + SHEET_TAIL


def package_members(sheet_names: list[str]) -> list[Member]:
    """Everything of an .xlsx except the sheets: content types, relationships, workbook, styles."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheet_names) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        f'{XML_DECL}<Relationships xmlns="{PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    sheets = "".join(
        f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheet_names, start=1)
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>{sheets}</sheets></workbook>'
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheet_names) + 1)
    )
    styles_id = len(sheet_names) + 1
    workbook_rels = (
        f'{XML_DECL}<Relationships xmlns="{PKG_REL_NS}">'
        f'{rels}<Relationship Id="rId{styles_id}" Type="{REL_NS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    )
    return [
        Member.of("[Content_Types].xml", content_types.encode()),
        Member.of("_rels/.rels", root_rels.encode()),
        Member.of("xl/workbook.xml", workbook.encode()),
        Member.of("xl/_rels/workbook.xml.rels", workbook_rels.encode()),
        Member.of("xl/styles.xml", _STYLES.encode()),
    ]


def raw_xlsx(sheets: dict[str, bytes | Rows | Member]) -> bytes:
    """An .xlsx written by hand. Each sheet is its XML (bytes), rows (run through `sheet_xml`),
    or a ready `Member` (its name is replaced by the sheet's part name)."""
    names = list(sheets)
    members = package_members(names)
    for i, name in enumerate(names, start=1):
        part = f"xl/worksheets/sheet{i}.xml"
        content = sheets[name]
        if isinstance(content, Member):
            members.append(
                Member(part, content.deflated, content.crc, content.size, content.declared_size)
            )
        elif isinstance(content, bytes):
            members.append(Member.of(part, content))
        else:
            members.append(Member.of(part, sheet_xml(content)))
    return zip_bytes(members)


def zip_bomb_xlsx(inflated: int = 1_100 * 2**20, declared_size: int | None = None) -> bytes:
    """An .xlsx whose one sheet inflates to `inflated` bytes of XML (whitespace inside
    <sheetData>), about 1 KiB per MiB compressed. `declared_size` makes the zip headers lie."""
    mib = 2**20
    member = repeated_member(
        "sheet",
        SHEET_HEAD + SHEET_DATA_OPEN,
        b" " * mib,
        max(1, inflated // mib),
        SHEET_DATA_CLOSE + SHEET_TAIL,
        declared_size,
    )
    return raw_xlsx({"policy": member})


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d5a3f80000000049454e44ae426082"
)
