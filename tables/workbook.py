"""Reading workbooks: .xlsx (openpyxl, streaming), .csv and the normalized JSON form, into raw
sheets of cell text. Hostile input is refused early with a clear problem and bounded work."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from .model import Problem, WorkbookError

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_SHEETS = 100
MAX_COLUMNS = 200
MAX_ROWS = 20_000
MAX_CELL_CHARS = 4_000

Source = str | Path | bytes | bytearray | IO[bytes]


@dataclass(slots=True)
class RawSheet:
    """A sheet as text: rows[i] = (row number, cells from column A on, "" when empty)."""

    name: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_bytes(src: Source) -> bytes:
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    elif isinstance(src, (str, Path)):
        path = Path(src)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _too_big(path.stat().st_size)
        data = path.read_bytes()
    else:
        data = src.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(len(data))
    return data


def _too_big(size: int) -> WorkbookError:
    return WorkbookError(
        [Problem("", "", f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")]
    )


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """A -> 0, Z -> 25, AA -> 26."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


# --------------------------------------------------------------------------- xlsx


def read_xlsx(data: bytes) -> list[RawSheet]:
    archive = _open_zip(data)
    _check_inflated_sizes(archive)
    import openpyxl  # imported here: the library stays importable without touching it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds on bad files
        raise WorkbookError([Problem("", "", f"not a readable .xlsx workbook ({error})")]) from None
    try:
        names = book.sheetnames
        if len(names) > MAX_SHEETS:
            raise WorkbookError(
                [Problem("", "", f"{len(names)} sheets; a workbook may have at most {MAX_SHEETS}")]
            )
        sheets = [_read_sheet(book[name], archive) for name in names]
    finally:
        book.close()
    _fill_cached_formula_values(data, sheets)
    return sheets


def _open_zip(data: bytes) -> zipfile.ZipFile:
    if not data:
        raise WorkbookError([Problem("", "", "the file is empty")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise WorkbookError(
            [Problem("", "", "not an .xlsx workbook (the file is not a zip archive)")]
        ) from None
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        raise WorkbookError([Problem("", "", "not an .xlsx workbook (xl/workbook.xml is missing)")])
    return archive


def _check_inflated_sizes(archive: zipfile.ZipFile) -> None:
    """Inflates each member in chunks before openpyxl sees the file: counts real bytes (a lying
    header cannot pass), refuses XML with a DOCTYPE (entity expansion), and counts the rows of
    each worksheet, so a million-row sheet is refused without being parsed."""
    total = 0
    too_long: list[tuple[str, int]] = []
    for info in archive.infolist():
        if info.file_size > MAX_UNCOMPRESSED_BYTES:
            raise _bomb(info.filename, info.file_size)
        rows = 0
        tail = b""
        try:
            with archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_UNCOMPRESSED_BYTES:
                        raise _bomb(info.filename, total)
                    window = tail + chunk
                    if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                        raise WorkbookError(
                            [
                                Problem(
                                    "",
                                    "",
                                    f"{info.filename} declares a DOCTYPE; "
                                    "refused (Excel never writes one)",
                                )
                            ]
                        )
                    rows += len(_ROW_TAG.findall(window)) - len(_ROW_TAG.findall(tail))
                    tail = window[-16:]
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
            raise WorkbookError(
                [Problem("", "", f"the workbook is damaged ({info.filename}: {error})")]
            ) from None
        if rows > MAX_ROWS + 200:
            too_long.append((info.filename, rows))
    if too_long:
        names = _sheet_names_by_path(archive)
        raise WorkbookError(
            [
                Problem(
                    names.get(path, path),
                    f"A{MAX_ROWS + 1}",
                    f"the sheet has {rows:,} rows; a sheet may have at most {MAX_ROWS:,}",
                )
                for path, rows in too_long
            ]
        )


def _sheet_names_by_path(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part path (xl/worksheets/sheet1.xml) -> the sheet's name."""
    from xml.etree import ElementTree

    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    names = {}
    for sheet in book.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rel_id = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
        target = targets.get(rel_id, "")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        names[path] = sheet.get("name", path)
    return names


_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")


def _bomb(member: str, size: int) -> WorkbookError:
    return WorkbookError(
        [
            Problem(
                "",
                "",
                f"the workbook inflates to more than {MAX_UNCOMPRESSED_BYTES:,} bytes "
                f"({member}: {size:,}+); refused as a possible zip bomb",
            )
        ]
    )


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+\d+(?::[A-Z]+\d+)?)"')
# A cell with a value (<v> or inline string) in a column of two or more letters: the candidates
# for "beyond the columns we read", which would otherwise be dropped without a word.
_FAR_CELL = re.compile(
    rb'<(?:\w+:)?c\s+r="([A-Z]{2,})(\d+)"[^>]*?(?<!/)>\s*'  # the cell, not self-closed
    rb"(?:<(?:\w+:)?f[^>]*>[^<]*</(?:\w+:)?f>\s*)?"  # maybe a formula
    rb"<(?:\w+:)?(?:v|is)\b"  # and a value
)


def _read_sheet(ws: Any, archive: zipfile.ZipFile) -> RawSheet:
    sheet = RawSheet(ws.title)
    path = getattr(ws, "_worksheet_path", None)
    if path:
        with archive.open(path) as member:
            xml = member.read()
        sheet.merged = [m.decode() for m in _MERGE.findall(xml)]
        for far in _FAR_CELL.finditer(xml):
            if column_index(far.group(1).decode()) >= MAX_COLUMNS:
                ref = (far.group(1) + far.group(2)).decode()
                sheet.problems.append(
                    Problem(
                        ws.title,
                        ref,
                        "a value beyond the columns Runbook "
                        f"reads: a sheet may use at most {MAX_COLUMNS}",
                    )
                )
                break
    for row in ws.iter_rows(max_row=MAX_ROWS + 201, max_col=MAX_COLUMNS):
        if not row:
            continue
        number = _row_number(row)
        if number is None:
            continue
        if number > MAX_ROWS + 200:
            sheet.problems.append(
                Problem(ws.title, f"A{number}", f"the sheet has more than {MAX_ROWS:,} rows")
            )
            break
        cells = [_cell_text(cell, ws.title, sheet.problems) for cell in row]
        while cells and cells[-1] == "":
            cells.pop()
        if cells:
            sheet.rows.append((number, cells))
    return sheet


def _row_number(row: tuple[Any, ...]) -> int | None:
    for cell in row:
        number = getattr(cell, "row", None)
        if number is not None:
            return int(number)
    return None


def _cell_text(cell: Any, sheet: str, problems: list[Problem]) -> str:
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if getattr(cell, "data_type", None) == "f":
        return _FORMULA_MARK + str(cell.coordinate)
    text = value_to_text(value)
    if len(text) > MAX_CELL_CHARS:
        problems.append(
            Problem(
                sheet,
                str(cell.coordinate),
                f"the cell holds {len(text):,} characters; the limit is {MAX_CELL_CHARS:,}",
            )
        )
        return ""
    return text


_FORMULA_MARK = "\x00formula:"


def value_to_text(value: Any) -> str:
    """Cell values as the text an ops person would have typed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time():
            return f'date("{value.date().isoformat()}")'
        return f'datetime("{value.isoformat()}")'
    if isinstance(value, date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, time):
        return f'"{value.isoformat()}"'
    return str(value).strip()


def _fill_cached_formula_values(data: bytes, sheets: list[RawSheet]) -> None:
    """Formula cells take the value Excel cached when it saved the file; none cached is an error."""
    wanted = {
        sheet.name: [
            (r, c)
            for r, (_, cells) in enumerate(sheet.rows)
            for c, text in enumerate(cells)
            if text.startswith(_FORMULA_MARK)
        ]
        for sheet in sheets
    }
    if not any(wanted.values()):
        return
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in sheets:
            if not wanted[sheet.name]:
                continue
            cached = _cached_values(book[sheet.name])
            for r, c in wanted[sheet.name]:
                number, cells = sheet.rows[r]
                ref = cells[c][len(_FORMULA_MARK) :]
                value = cached.get(ref)
                if value is None:
                    sheet.problems.append(
                        Problem(
                            sheet.name,
                            ref,
                            "a formula without a saved result; type the value "
                            "instead, or open and save the file in Excel",
                        )
                    )
                    cells[c] = ""
                else:
                    cells[c] = value_to_text(value)
                    sheet.problems.append(
                        Problem(
                            sheet.name,
                            ref,
                            f"a formula: its saved result {cells[c]!r} is used",
                            "warning",
                        )
                    )
    finally:
        book.close()


def _cached_values(ws: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for row in ws.iter_rows(max_row=MAX_ROWS + 201, max_col=MAX_COLUMNS):
        for cell in row:
            value = getattr(cell, "value", None)
            if value is not None:
                found[cell.coordinate] = value
    return found


# --------------------------------------------------------------------------- csv


def read_csv(data: bytes, name: str) -> list[RawSheet]:
    text = _decode_text(data)
    sheet = RawSheet(name)
    reader = csv.reader(io.StringIO(text))
    try:
        for number, row in enumerate(_bounded(reader), start=1):
            cells = [cell.strip() for cell in row[: MAX_COLUMNS + 1]]
            if len(cells) > MAX_COLUMNS and cells[MAX_COLUMNS]:
                raise WorkbookError(
                    [
                        Problem(
                            name,
                            f"{column_letter(MAX_COLUMNS)}{number}",
                            f"more than {MAX_COLUMNS} columns",
                        )
                    ]
                )
            cells = cells[:MAX_COLUMNS]
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                sheet.rows.append((number, cells))
    except csv.Error as error:
        raise WorkbookError([Problem(name, "", f"not a readable CSV file ({error})")]) from None
    return [sheet]


def _bounded(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    for count, row in enumerate(reader, start=1):
        if count > MAX_ROWS + 200:
            raise WorkbookError([Problem("", f"A{count}", f"more than {MAX_ROWS:,} rows")])
        yield row


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise WorkbookError([Problem("", "", "not a text file")])
    for encoding in ("utf-8-sig", "cp932"):  # cp932: CSV saved by Excel on Japanese Windows
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise WorkbookError([Problem("", "", "the file is neither UTF-8 nor Shift_JIS text")])
