"""Reading uploaded CSV and XLSX files as rows of text, streaming: whatever the file's size,
only one row is in memory at a time.

CSV: the encoding is detected (a BOM first, then strict UTF-8, then charset-normalizer for
Windows-1251, Windows-874, GB18030 and the rest), the delimiter among ``,`` ``;`` and tab;
quoted fields may hold line breaks. XLSX: the archive is checked before it is opened —
a password-protected workbook (an OLE container, not a zip), a damaged or truncated archive
and a zip bomb (sizes or ratios out of bounds) are refused with their own message.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

from charset_normalizer import from_bytes
from defusedxml import DefusedXmlException, ElementTree
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError

# The largest file accepted, named on the upload page and checked before the body is read.
MAX_FILE_BYTES = 512 * 1024**2
MAX_COLUMNS = 1000
# One cell may hold up to this many characters (a CSV reader refuses longer fields).
MAX_CELL_CHARS = 16 * 1024**2
# A workbook whose parts unpack past this, or unpack this many times their packed size, is a
# zip bomb, not a spreadsheet of customers.
MAX_XLSX_UNPACKED_BYTES = 4 * 1024**3
MAX_XLSX_RATIO = 200
SAMPLE_BYTES = 256 * 1024
DELIMITERS = ",;\t"

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# A cell holding a formula and no saved value (<c r="B2"><f>A2*2</f><v/></c>): written by a program,
# never opened in a spreadsheet. Reading its value would give an empty cell, silently.
UNCOMPUTED_FORMULA = re.compile(
    rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3}[0-9]{1,7})"[^>]*>\s*'
    rb"<(?:\w+:)?f\b[^>]*?(?:/>|>[^<]*</(?:\w+:)?f>)\s*"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>"
)
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

csv.field_size_limit(MAX_CELL_CHARS)


@dataclass(frozen=True)
class FileShape:
    file_format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""


def _problem(message: str, code: str = "invalid") -> ServiceError:
    return ServiceError(message, field="file", code=code)


def detect_format(path: Path, name: str) -> FileShape:
    """What kind of file this is and how to read it; raise naming the problem otherwise."""
    size = path.stat().st_size
    if size == 0:
        raise _problem(_("The file is empty."), "empty")
    if size > MAX_FILE_BYTES:
        raise _problem(
            _("The file is larger than the limit of %(limit)d MB.")
            % {"limit": MAX_FILE_BYTES // 1024**2},
            "too_large",
        )
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(OLE_MAGIC):
        raise _problem(
            _(
                "The workbook is password-protected or in the old .xls format: remove the "
                "password, or save it as .xlsx or CSV, and upload it again."
            ),
            "protected",
        )
    if head.startswith(b"PK\x03\x04") or name.lower().endswith(".xlsx"):
        check_xlsx(path)
        return FileShape(file_format="xlsx")
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="ignore")
    return FileShape(file_format="csv", encoding=encoding, delimiter=detect_delimiter(text))


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # The sample may end inside a character: ignore an incomplete last sequence.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    best = from_bytes(head, cp_isolation=None).best()
    if best is None:
        raise _problem(
            _("The file is not text we can read: save it as CSV (UTF-8) or XLSX."), "encoding"
        )
    return str(best.encoding)


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same, largest number of fields."""
    lines = text.splitlines()[:20] or [""]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def check_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if any(info.flag_bits & 0x1 for info in members):
                raise _problem(_("The workbook is password-protected."), "protected")
            unpacked = sum(info.file_size for info in members)
            for info in members:
                if info.file_size > 1024**2 and info.file_size > MAX_XLSX_RATIO * max(
                    info.compress_size, 1
                ):
                    raise _problem(
                        _("The workbook unpacks to far more than its size: it is refused."),
                        "zip_bomb",
                    )
            if unpacked > MAX_XLSX_UNPACKED_BYTES:
                raise _problem(
                    _("The workbook unpacks to far more than its size: it is refused."), "zip_bomb"
                )
            if "xl/workbook.xml" not in archive.namelist():
                raise _problem(_("The file is not an Excel workbook (.xlsx)."), "not_xlsx")
            bad = archive.testzip()
            uncomputed = [] if bad is not None else _uncomputed_formulas(archive)
    except zipfile.BadZipFile as exc:
        raise _problem(
            _("The workbook is damaged or incomplete (was the upload cut short?)."), "truncated"
        ) from exc
    if bad is not None:
        raise _problem(
            _("The workbook is damaged or incomplete (was the upload cut short?)."), "truncated"
        )
    if uncomputed:
        raise _problem(
            _(
                "Cells %(cells)s hold formulas whose results were never calculated, so their "
                "values are unknown: open the file in a spreadsheet program, save it, and "
                "upload it again."
            )
            % {"cells": ", ".join(uncomputed)},
            "uncomputed_formula",
        )


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The archive path of the workbook's first sheet (the one imported)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError, DefusedXmlException):
        return None
    sheet = workbook.find(f"{{{_MAIN_NS}}}sheets/{{{_MAIN_NS}}}sheet")
    if sheet is None:
        return None
    rel_id = sheet.get(f"{{{_REL_NS}}}id")
    for rel in rels.iter(f"{{{_PKG_NS}}}Relationship"):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return None


def _uncomputed_formulas(archive: zipfile.ZipFile, limit: int = 5) -> list[str]:
    """Up to ``limit`` references of first-sheet cells holding a formula with no saved value,
    read in chunks (a cell cut by a chunk's end is read whole with the next chunk)."""
    part = _first_sheet_part(archive)
    if part is None or part not in archive.namelist():
        return []
    found: list[str] = []
    tail = b""
    with archive.open(part) as stream:
        while len(found) < limit:
            chunk = stream.read(1024**2)
            text = tail + chunk
            if chunk:
                # Keep from the last cell's start on: it may continue in the next chunk.
                cut = max(text.rfind(b"<c "), text.rfind(b":c "))
                text, tail = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
            found.extend(m.group(1).decode() for m in UNCOMPUTED_FORMULA.finditer(text))
            if not chunk:
                break
    return found[:limit]


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(Decimal(str(value)))
    return str(value)


def iter_rows(path: Path, shape: FileShape) -> Iterator[list[str]]:
    """Every row of the file, the header first, as lists of text."""
    if shape.file_format == "xlsx":
        yield from _xlsx_rows(path)
        return
    handle: IO[str]
    with path.open(encoding=shape.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=shape.delimiter or ",")
        try:
            yield from reader
        except csv.Error as exc:
            raise _problem(
                _("Line %(line)d of the file cannot be read: %(reason)s")
                % {"line": reader.line_num, "reason": str(exc)},
                "csv",
            ) from exc


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    # A file object, not a path: openpyxl would judge a path by its extension.
    with path.open("rb") as handle:
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise _problem(
                _("The workbook is damaged or incomplete (was the upload cut short?)."),
                "truncated",
            ) from exc
        try:
            sheet = workbook.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield [_xlsx_text(value) for value in values]
        finally:
            workbook.close()


def count_rows(path: Path, shape: FileShape) -> int:
    """The number of data rows (for the progress bar): a quick pass over a CSV file; the
    dimension an XLSX sheet declares."""
    if shape.file_format == "xlsx":
        from openpyxl import load_workbook

        with path.open("rb") as handle:
            workbook = load_workbook(handle, read_only=True, data_only=True)
            try:
                return max(int(workbook.worksheets[0].max_row or 1) - 1, 0)
            finally:
                workbook.close()
    rows = iter_rows(path, shape)
    next(rows, None)
    return sum(1 for _row in rows)


def _shown(text: str) -> str:
    """Text as stored for display (headers, the preview): PostgreSQL keeps no NUL character in
    text or JSON, so it shows as the replacement character. The row itself keeps it, and the
    import reports that row as refused."""
    return text.replace("\x00", "\ufffd")


def clean_headers(raw: list[str]) -> list[str]:
    """Headers as shown on the mapping page: an empty one becomes "Column N", a repeated one
    gets its position appended, so that every column can be told apart."""
    if not any(cell.strip() for cell in raw):
        raise _problem(_("The first row holds no column names."), "no_header")
    if len(raw) > MAX_COLUMNS:
        raise _problem(
            _("The file has %(count)d columns; at most %(limit)d can be imported.")
            % {"count": len(raw), "limit": MAX_COLUMNS},
            "columns",
        )
    headers: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(raw, start=1):
        name = " ".join(_shown(cell).split())[:200] or _("Column %(n)d") % {"n": index}
        if name.lower() in seen:
            name = f"{name} ({index})"
        seen.add(name.lower())
        headers.append(name)
    return headers


def data_rows(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """The data rows after the header, numbered from 1; blank rows keep their number but are
    not returned."""
    for number, row in enumerate(rows, start=1):
        if any(cell.strip() for cell in row):
            yield number, row


def read_head(
    path: Path, shape: FileShape, *, rows: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The cleaned headers and the first ``rows`` numbered data rows (cells cut for display)."""
    iterator = iter_rows(path, shape)
    raw_header = next(iterator, None)
    if raw_header is None:
        raise _problem(_("The file is empty."), "empty")
    headers = clean_headers(raw_header)
    sample: list[tuple[int, list[str]]] = []
    for number, row in data_rows(iterator):
        sample.append((number, [_shown(cell[:2000]) for cell in row]))
        if len(sample) >= rows:
            break
    return headers, sample
