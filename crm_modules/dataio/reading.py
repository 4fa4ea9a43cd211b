"""Reading uploaded CSV and XLSX files as rows of text, streaming: whatever the file's size,
only one row is in memory at a time.

CSV: the encoding is detected (a BOM first, then strict UTF-8, then charset-normalizer for
Windows-1251, Windows-874, GB18030 and the rest), the delimiter among ``,`` ``;`` and tab;
quoted fields may hold line breaks. XLSX: the archive is checked before it is opened —
a password-protected workbook (an OLE container, not a zip), a damaged or truncated archive
and a zip bomb (sizes or ratios out of bounds) are refused with their own message; the first
sheet is then read from its XML as a stream (ADR 0088).
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
from xml.etree import ElementTree as StdElementTree
from xml.etree.ElementTree import XMLPullParser

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

# A row's tag in a sheet's XML and its number ("<row r=\"12\" spans=…>"), for counting rows
# without parsing the sheet.
ROW_TAG = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
ROW_NUMBER = re.compile(rb'\br="([0-9]+)"')
# Excel's last column (XFD) and row: a cell placed further is not a spreadsheet's.
MAX_XLSX_COLUMN = 16_383
MAX_XLSX_ROW = 1_048_576

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
        raise _damaged() from exc
    if bad is not None:
        raise _damaged()
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


def _part_path(target: str) -> str:
    """The archive path a workbook relationship's target names."""
    return target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)


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
            return _part_path(rel.get("Target", ""))
    return None


def _related_part(archive: zipfile.ZipFile, kind: str) -> str | None:
    """The archive path of the workbook's ``kind`` part (``sharedStrings``, ``styles``) as its
    relationships name it, else where Excel writes it; None when the workbook has none."""
    names = set(archive.namelist())
    try:
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError, DefusedXmlException):
        rels = None
    if rels is not None:
        for rel in rels.iter(f"{{{_PKG_NS}}}Relationship"):
            if rel.get("Type", "").endswith("/" + kind):
                path = _part_path(rel.get("Target", ""))
                return path if path in names else None
    default = f"xl/{kind}.xml"
    return default if default in names else None


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
    """The first sheet's rows, read from its XML as a stream (ADR 0088): shared and inline
    strings, numbers, booleans, errors, and numbers whose style is a date or a duration.
    A row or a cell the sheet leaves out reads as empty, so row numbers are the sheet's."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _damaged() from exc
    with archive:
        workbook = _Workbook.read(archive)
        yield from _sheet_rows(archive, workbook)


def _damaged() -> ServiceError:
    return _problem(
        _("The workbook is damaged or incomplete (was the upload cut short?)."), "truncated"
    )


def _text_of(item: StdElementTree.Element, ns: str) -> str:
    """A string item's text (``<si>`` or ``<is>``): its plain text and its rich-text runs,
    without the phonetic guides (``<rPh>``) shown above East Asian text."""
    parts: list[str] = []
    for child in item:
        if child.tag == ns + "t":
            parts.append(child.text or "")
        elif child.tag == ns + "r":
            text = child.find(ns + "t")
            if text is not None:
                parts.append(text.text or "")
    return "".join(parts)


def _children(stream: IO[bytes], container: str) -> Iterator[tuple[str, StdElementTree.Element]]:
    """The namespace and each complete child of the first element named ``container``
    (``sheetData``: the rows; ``sst``: the strings) of an XML part read in chunks with the C
    parser; a child is dropped from the tree once handed out, so memory holds one chunk's.
    A part that declares a document type (where entities would be defined) before its root
    element is refused before the parser reads it."""
    parser: XMLPullParser[StdElementTree.Element] = XMLPullParser(events=("start",))
    found: StdElementTree.Element | None = None
    ns = ""
    rooted = False
    tail = b""
    try:
        while True:
            chunk = stream.read(1024**2)
            if not rooted:
                if b"<!DOCTYPE" in tail + chunk or b"<!ENTITY" in tail + chunk:
                    raise _damaged()
                tail = chunk[-16:]
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
            for event in parser.read_events():
                rooted = True
                element = event[-1]
                if (
                    found is None
                    and isinstance(element, StdElementTree.Element)
                    and (element.tag == container or element.tag.endswith("}" + container))
                ):
                    found = element
                    ns = element.tag[: -len(container)]
            if found is not None:
                # Every child but the last is closed (a sibling started after it).
                done = len(found) - 1 if chunk else len(found)
                if done > 0:
                    complete = found[:done]
                    del found[:done]
                    for child in complete:
                        yield ns, child
            if not chunk:
                return
    except StdElementTree.ParseError as exc:
        raise _damaged() from exc


@dataclass
class _Workbook:
    """What reading the first sheet's cells needs from the rest of the workbook."""

    sheet: str
    strings: list[str]
    date_styles: frozenset[int]
    duration_styles: frozenset[int]
    epoch: datetime.datetime

    @classmethod
    def read(cls, archive: zipfile.ZipFile) -> _Workbook:
        from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH

        names = set(archive.namelist())
        sheet = _first_sheet_part(archive)
        if sheet is None or sheet not in names:
            raise _damaged()
        try:
            workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        except (KeyError, ElementTree.ParseError, DefusedXmlException) as exc:
            raise _damaged() from exc
        properties = workbook.find(f"{{{_MAIN_NS}}}workbookPr")
        date1904 = properties is not None and properties.get("date1904") in ("1", "true")
        styles = _related_part(archive, "styles")
        dates, durations = _date_styles(archive, styles) if styles else (set(), set())
        strings: list[str] = []
        shared = _related_part(archive, "sharedStrings")
        if shared:
            with archive.open(shared) as stream:
                strings = [_text_of(item, ns) for ns, item in _children(stream, "sst")]
        return cls(
            sheet=sheet,
            strings=strings,
            date_styles=frozenset(dates),
            duration_styles=frozenset(durations),
            epoch=MAC_EPOCH if date1904 else WINDOWS_EPOCH,
        )


def _date_styles(archive: zipfile.ZipFile, part: str) -> tuple[set[int], set[int]]:
    """The cell styles (their index in ``cellXfs``) whose number format is a date or time,
    and those of them that are durations (``[h]:mm``)."""
    from openpyxl.styles.numbers import (
        BUILTIN_FORMATS,
        is_date_format,
        is_timedelta_format,
    )

    try:
        styles = ElementTree.fromstring(archive.read(part))
    except (KeyError, ElementTree.ParseError, DefusedXmlException) as exc:
        raise _damaged() from exc
    custom = {
        element.get("numFmtId", ""): element.get("formatCode", "")
        for element in styles.iter(f"{{{_MAIN_NS}}}numFmt")
    }
    dates: set[int] = set()
    durations: set[int] = set()
    cell_styles = styles.find(f"{{{_MAIN_NS}}}cellXfs")
    for index, style in enumerate(cell_styles if cell_styles is not None else []):
        number_format = style.get("numFmtId", "0")
        code = custom.get(number_format)
        if code is None:
            code = BUILTIN_FORMATS.get(int(number_format) if number_format.isdigit() else -1)
        if code and is_date_format(code):
            dates.add(index)
            if is_timedelta_format(code):
                durations.add(index)
    return dates, durations


def _column_index(reference: str) -> int:
    """The 0-based column of a cell reference ("C7" → 2)."""
    index = 0
    for char in reference:
        if "A" <= char <= "Z":
            index = index * 26 + ord(char) - 64
        else:
            break
    return index - 1


def _cell_text(cell: StdElementTree.Element, ns: str, workbook: _Workbook) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        item = cell.find(ns + "is")
        return _text_of(item, ns) if item is not None else ""
    value = cell.findtext(ns + "v")
    if not value:
        return ""
    if kind == "s":
        # A string the workbook's table does not hold: the workbook is damaged, and reading
        # the cell as empty would lose its value without a word.
        try:
            return workbook.strings[int(value)]
        except (ValueError, IndexError) as exc:
            raise _damaged() from exc
    if kind == "b":
        return "false" if value.strip() in ("0", "false") else "true"
    if kind == "d":
        try:
            return _xlsx_text(datetime.datetime.fromisoformat(value))
        except ValueError:
            return value
    if kind != "n":  # "str" (a formula's text), "e" (an error such as #N/A)
        return value
    try:
        number: float | int = (
            float(value) if "." in value or "e" in value or "E" in value else int(value)
        )
    except ValueError:
        return value
    style = cell.get("s")
    if style and style.isdigit() and int(style) in workbook.date_styles:
        from openpyxl.utils.datetime import from_excel

        try:
            return _xlsx_text(
                from_excel(number, workbook.epoch, timedelta=int(style) in workbook.duration_styles)
            )
        except (OverflowError, ValueError):
            return value
    return _xlsx_text(number)


def _sheet_rows(archive: zipfile.ZipFile, workbook: _Workbook) -> Iterator[list[str]]:
    number = 0  # the last row yielded
    with archive.open(workbook.sheet) as stream:
        for ns, row in _children(stream, "sheetData"):
            if row.tag != ns + "row":
                continue
            reference = row.get("r", "")
            row_number = int(reference) if reference.isdigit() else number + 1
            if row_number > MAX_XLSX_ROW:
                raise _damaged()
            while number + 1 < row_number:  # rows the sheet leaves out
                number += 1
                yield []
            cells: list[str] = []
            cell_tag = ns + "c"
            for cell in row:
                if cell.tag != cell_tag:
                    continue
                position = cell.get("r")
                column = _column_index(position) if position else len(cells)
                if column < len(cells) or column > MAX_XLSX_COLUMN:
                    continue
                if column > len(cells):
                    cells.extend([""] * (column - len(cells)))
                cells.append(_cell_text(cell, ns, workbook))
            number = max(number + 1, row_number)
            yield cells


def count_rows(path: Path, shape: FileShape) -> int:
    """The number of data rows (for the progress bar): a quick pass over a CSV file; the
    last row number of an XLSX sheet, found in its XML without parsing it."""
    if shape.file_format == "xlsx":
        with zipfile.ZipFile(path) as archive:
            sheet = _first_sheet_part(archive)
            if sheet is None or sheet not in archive.namelist():
                return 0
            last = count = 0
            tail = b""
            with archive.open(sheet) as stream:
                while True:
                    chunk = stream.read(1024**2)
                    text = tail + chunk
                    cut = text.rfind(b"<") if chunk else -1
                    # A tag cut by the chunk's end is read whole with the next chunk.
                    text, tail = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
                    for match in ROW_TAG.finditer(text):
                        count += 1
                        reference = ROW_NUMBER.search(match.group(1))
                        last = int(reference.group(1)) if reference else last + 1
                    if not chunk:
                        break
            return max(max(last, count) - 1, 0)
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
