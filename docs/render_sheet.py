"""Renders one sheet of a workbook to PNG, the way a spreadsheet shows it (for the README).

Needs Pillow and a CJK font (Debian: fonts-noto-cjk); neither is a project dependency.

    python docs/render_sheet.py examples/returns.xlsx return_policy docs/return_policy.png
"""

from __future__ import annotations

import sys

import openpyxl
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
ROW_HEIGHT, PAD, MAX_WIDTH = 26, 6, 330


def render(path: str, sheet_name: str, out: str) -> None:
    sheet = openpyxl.load_workbook(path)[sheet_name]
    rows = [[("" if c.value is None else str(c.value)) for c in row] for row in sheet.iter_rows()]
    bold_rows = {r + 1 for r, row in enumerate(sheet.iter_rows()) if any(c.font.b for c in row)}
    font, bold = ImageFont.truetype(FONT, 14), ImageFont.truetype(BOLD, 14)
    columns = max(len(r) for r in rows)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [40] + [
        min(MAX_WIDTH, max(60, *(measure.textlength(r[c], font=bold) + 2 * PAD
                                 for r in rows if c < len(r))))
        for c in range(columns)
    ]
    image = Image.new("RGB", (int(sum(widths)) + 1, ROW_HEIGHT * (len(rows) + 1) + 1), "white")
    draw = ImageDraw.Draw(image)
    x = 0
    for c, width in enumerate(widths):
        draw.rectangle([x, 0, x + width, ROW_HEIGHT], fill="#eeeeee", outline="#c0c0c0")
        label = "" if c == 0 else openpyxl.utils.get_column_letter(c)
        draw.text((x + PAD, 4), label, fill="#555555", font=font)
        x += width
    for r, row in enumerate(rows, start=1):
        y, x = r * ROW_HEIGHT, 0
        for c, width in enumerate(widths):
            fill = "#eeeeee" if c == 0 else ("#ddebf7" if r in bold_rows and c <= len(row) and
                                             any(row) else "white")
            draw.rectangle([x, y, x + width, y + ROW_HEIGHT], fill=fill, outline="#d0d0d0")
            text = str(r) if c == 0 else (row[c - 1] if c - 1 < len(row) else "")
            while text and draw.textlength(text, font=font) > width - 2 * PAD:
                text = text[:-2] + "…"
            draw.text((x + PAD, y + 4), text, fill="black", font=bold if r in bold_rows else font)
            x += width
    image.save(out)


if __name__ == "__main__":
    render(*sys.argv[1:4])
