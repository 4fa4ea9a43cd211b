"""CSV exports that spreadsheets cannot turn into formulas (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        # A leading apostrophe makes Excel, LibreOffice and Sheets show the text as typed.
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    # A BOM so that spreadsheet programs read UTF-8 (Thai, Chinese, Cyrillic names) correctly.
    return "\ufeff" + buffer.getvalue()
