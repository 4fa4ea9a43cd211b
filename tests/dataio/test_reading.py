"""Files as they arrive: encodings, delimiters, quoted line breaks, odd headers, damaged and
hostile workbooks. Each problem is refused with a message naming it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_modules.dataio import reading
from crm_platform.errors import ServiceError
from tests.dataio.conftest import xlsx

NAMES = [
    ["Имя", "Фамилия", "Email"],
    ["Анна", "Иванова", "anna@example.ru"],
    ["Пётр", "Сидоров", "petr@example.ru"],
]


def _write(tmp_path: Path, body: bytes, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def _csv(rows: list[list[str]], delimiter: str = ",") -> str:
    return "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"


def _read(path: Path) -> tuple[reading.FileShape, list[list[str]]]:
    shape = reading.detect_format(path, path.name)
    return shape, list(reading.iter_rows(path, shape))


@pytest.mark.parametrize(
    ("encoding", "rows", "detected"),
    [
        ("utf-8", NAMES, "utf-8"),
        ("utf-8-sig", NAMES, "utf-8-sig"),
        ("utf-16", NAMES, "utf-16"),
        ("cp1251", NAMES * 20, None),
        ("cp874", [["ชื่อ", "นามสกุล"], ["สมชาย", "ใจดี"], ["สมหญิง", "รักไทย"]] * 20, None),
        (
            "gb18030",
            [["姓名", "公司"], ["王芳", "北京科技有限公司"], ["李雷", "上海贸易公司"]] * 20,
            None,
        ),
    ],
)
def test_the_encoding_is_detected_and_the_text_read_back_exactly(
    tmp_path: Path, encoding: str, rows: list[list[str]], detected: str | None
) -> None:
    path = _write(tmp_path, _csv(rows).encode(encoding))

    shape, read = _read(path)

    if detected:
        assert shape.encoding == detected
    assert read == rows


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    rows = [["First name", "Last name", "Email"], ["Ada", "Lovelace", "ada@example.com"]]
    path = _write(tmp_path, _csv(rows, delimiter).encode())

    shape, read = _read(path)

    assert shape.delimiter == delimiter
    assert read == rows


def test_quoted_fields_keep_their_line_breaks_and_delimiters(tmp_path: Path) -> None:
    body = 'Name;Notes\r\n"Ada";"first line\nsecond; line"\r\nBob;plain\r\n'
    shape, read = _read(_write(tmp_path, body.encode()))
    assert shape.delimiter == ";"
    assert read == [["Name", "Notes"], ["Ada", "first line\nsecond; line"], ["Bob", "plain"]]


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, b""), "empty.csv")
    assert caught.value.code == "empty"
    assert caught.value.field == "file"


def test_a_file_without_a_header_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, b",,\r\n1,2,3\r\n")
    shape = reading.detect_format(path, "x.csv")
    with pytest.raises(ServiceError) as caught:
        reading.read_head(path, shape, rows=5)
    assert caught.value.code == "no_header"


def test_a_file_over_the_limit_is_refused_naming_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_FILE_BYTES", 10 * 1024**2)
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.truncate(10 * 1024**2 + 1)
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(path, "big.csv")
    assert caught.value.code == "too_large"
    assert "10 MB" in caught.value.message


def test_empty_and_repeated_headers_are_named_apart() -> None:
    assert reading.clean_headers(["Email", "", "email", " Name  x "]) == [
        "Email",
        "Column 2",
        "email (3)",
        "Name x",
    ]


def test_a_thousand_columns_are_read_and_more_are_refused(tmp_path: Path) -> None:
    header = [f"c{i}" for i in range(1000)]
    path = _write(tmp_path, _csv([header, ["x"] * 1000]).encode())
    headers, sample = reading.read_head(path, reading.detect_format(path, "w.csv"), rows=5)
    assert len(headers) == 1000
    assert sample == [(1, ["x"] * 1000)]

    with pytest.raises(ServiceError) as caught:
        reading.clean_headers([*header, "one more"])
    assert caught.value.code == "columns"
    assert "1001" in caught.value.message


def test_a_ten_megabyte_cell_is_read_whole(tmp_path: Path) -> None:
    big = "x" * (10 * 1024**2)
    path = _write(tmp_path, f'Name,Notes\r\nAda,"{big}"\r\n'.encode())
    _shape, read = _read(path)
    assert read[1][1] == big


def test_blank_rows_keep_their_numbers() -> None:
    rows = iter([["a"], [""], ["b"]])
    assert list(reading.data_rows(rows)) == [(1, ["a"]), (3, ["b"])]


def test_a_workbook_is_read_with_dates_and_numbers_as_text(tmp_path: Path) -> None:
    import datetime

    body = xlsx([["Name", "Born", "Size", "Score"], ["Ada", datetime.date(1815, 12, 10), 250, 1.5]])
    shape, read = _read(_write(tmp_path, body, "people.xlsx"))
    assert shape.file_format == "xlsx"
    assert read == [["Name", "Born", "Size", "Score"], ["Ada", "1815-12-10", "250", "1.5"]]


def test_a_truncated_workbook_is_refused(tmp_path: Path) -> None:
    body = xlsx([["Name"], ["Ada"]])
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, body[: len(body) // 2], "cut.xlsx"), "cut.xlsx")
    assert caught.value.code == "truncated"


def test_a_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    # Excel stores an encrypted workbook in an OLE compound file, not in a zip.
    body = reading.OLE_MAGIC + b"\x00" * 4096
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, body, "secret.xlsx"), "secret.xlsx")
    assert caught.value.code == "protected"
    assert "password" in caught.value.message


def test_a_zip_bomb_disguised_as_a_workbook_is_refused_before_unpacking(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (50 * 1024**2))
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, buffer.getvalue(), "bomb.xlsx"), "bomb.xlsx")
    assert caught.value.code == "zip_bomb"


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, buffer.getvalue(), "x.xlsx"), "x.xlsx")
    assert caught.value.code == "not_xlsx"


def _with_sheet_xml(body: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The workbook ``body`` with its first sheet's XML passed through ``change``."""
    source = zipfile.ZipFile(io.BytesIO(body))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            target.writestr(info.filename, data)
    return buffer.getvalue()


def test_a_formula_never_calculated_is_refused_naming_its_cells(tmp_path: Path) -> None:
    # A program wrote the workbook and no spreadsheet ever calculated it: reading the amount
    # would give an empty cell (and a deal of 0.00) without a word.
    body = xlsx([["Deal", "Units", "Amount"], ["Big", 4, "=B2*250"], ["Small", 1, "=B3*250"]])
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, body, "deals.xlsx"), "deals.xlsx")
    assert caught.value.code == "uncomputed_formula"
    assert caught.value.field == "file"
    assert caught.value.message.startswith("Cells C2, C3 hold formulas")


def test_a_formula_with_its_saved_result_is_read_as_that_result(tmp_path: Path) -> None:
    body = _with_sheet_xml(
        xlsx([["Deal", "Units", "Amount"], ["Big", 4, "=B2*250"]]),
        lambda xml: xml.replace(b"<f>B2*250</f><v />", b"<f>B2*250</f><v>1000</v>"),
    )
    shape, read = _read(_write(tmp_path, body, "deals.xlsx"))
    assert shape.file_format == "xlsx"
    assert read == [["Deal", "Units", "Amount"], ["Big", "4", "1000"]]


def test_an_uncalculated_formula_far_into_a_large_sheet_is_found(tmp_path: Path) -> None:
    # Well past the first megabyte the sheet is read in: a cell cut by a chunk's end counts.
    rows: list[list[Any]] = [["Name", "Amount"]]
    rows += [[f"Contact {n} " + "x" * 40, n] for n in range(1, 40_000)]
    rows.append(["Last", "=B2+1"])
    with pytest.raises(ServiceError) as caught:
        reading.detect_format(_write(tmp_path, xlsx(rows), "big.xlsx"), "big.xlsx")
    assert caught.value.message.startswith("Cells B40001 hold formulas")


def test_formulas_on_a_sheet_that_is_not_imported_do_not_matter(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    assert first is not None
    first.append(["Name"])
    first.append(["Ada"])
    workbook.create_sheet("Totals").append(["=COUNTA(Sheet!A:A)"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    _shape, read = _read(_write(tmp_path, buffer.getvalue(), "people.xlsx"))
    assert read == [["Name"], ["Ada"]]


def _workbook(
    sheet: str,
    *,
    strings: str = "",
    styles: str = "",
    date1904: bool = False,
    strings_part: str = "",
) -> bytes:
    """A workbook written part by part, as Excel writes them (shared strings, styles,
    positions on every row and cell): ``sheet`` is the first sheet's ``<sheetData>``.
    ``strings_part``: the shared strings under that name, named by the workbook's
    relationships (as some programs write them)."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        "xl/workbook.xml": f'<workbook {ns} xmlns:r="{rel}">'
        + ('<workbookPr date1904="1"/>' if date1904 else "")
        + '<sheets><sheet name="Contacts" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/'
        f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        + (
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="{strings_part}"/>'
            if strings_part
            else ""
        )
        + "</Relationships>",
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}>'
        f'<dimension ref="A1:C2"/><sheetData>{sheet}</sheetData></worksheet>',
    }
    if strings:
        parts[f"xl/{strings_part or 'sharedStrings.xml'}"] = f"<sst {ns}>{strings}</sst>"
    if styles:
        parts["xl/styles.xml"] = f"<styleSheet {ns}>{styles}</styleSheet>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


STYLES = (
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
    '<numFmt numFmtId="165" formatCode="[h]:mm"/></numFmts>'
    '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/>'
    '<xf numFmtId="165"/><xf numFmtId="2"/></cellXfs>'
)


def test_a_workbook_as_excel_writes_it_is_read_cell_by_cell(tmp_path: Path) -> None:
    # Shared strings (one in rich text, one with a phonetic guide that is not part of the
    # text), an inline string, dates by built-in and custom format, a duration, a number
    # with a style that is not a date, booleans, an error, a formula's text result, a cell
    # and a whole row left out, and a row with no position.
    strings = (
        "<si><t>Name</t></si><si><t>Born</t></si><si><t>Notes</t></si>"
        "<si><r><t>Анна </t></r><r><rPr><b/></rPr><t>Иванова</t></r></si>"
        '<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>'
    )
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" s="1"><v>45000</v></c>'
        '<c r="C2" t="inlineStr"><is><t xml:space="preserve"> hi </t></is></c></row>'
        '<row r="3"><c r="A3" t="s"><v>4</v></c><c r="C3" s="2"><v>45000.5</v></c></row>'
        '<row r="5"><c r="A5" s="3"><v>1.5</v></c><c r="B5" s="4"><v>1234.5</v></c>'
        '<c r="C5" t="b"><v>1</v></c><c r="D5" t="b"><v>0</v></c></row>'
        '<row><c t="e"><v>#N/A</v></c><c t="str"><f>A1&amp;"!"</f><v>Name!</v></c></row>'
    )
    path = _write(tmp_path, _workbook(sheet, strings=strings, styles=STYLES), "excel.xlsx")
    shape, read = _read(path)
    assert shape.file_format == "xlsx"
    assert read == [
        ["Name", "Born", "Notes"],
        ["Анна Иванова", "2023-03-15", " hi "],
        ["東京", "", "2023-03-15 12:00:00"],
        [],
        ["1 day, 12:00:00", "1234.5", "true", "false"],
        ["#N/A", "Name!"],
    ]
    # The row count for the progress bar is the last row's number, less the header.
    assert reading.count_rows(path, shape) == 5


def test_shared_strings_are_found_where_the_workbook_says(tmp_path: Path) -> None:
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>'
    )
    strings = "<si><t>Name</t></si><si><t>Ada</t></si>"
    body = _workbook(sheet, strings=strings, strings_part="strings/table.xml")
    assert _read(_write(tmp_path, body, "named.xlsx"))[1] == [["Name"], ["Ada"]]


def test_a_cell_naming_a_string_the_workbook_lacks_is_refused_not_read_empty(
    tmp_path: Path,
) -> None:
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>7</v></c></row>'
    )
    path = _write(tmp_path, _workbook(sheet, strings="<si><t>Name</t></si>"), "short.xlsx")
    with pytest.raises(ServiceError) as caught:
        list(reading.iter_rows(path, reading.FileShape("xlsx")))
    assert caught.value.code == "truncated"


def test_a_workbook_counting_dates_from_1904_reads_them_so(tmp_path: Path) -> None:
    sheet = '<row r="1"><c r="A1" t="inlineStr"><is><t>Born</t></is></c></row>'
    sheet += '<row r="2"><c r="A2" s="1"><v>1</v></c></row>'
    path = _write(tmp_path, _workbook(sheet, styles=STYLES, date1904=True), "mac.xlsx")
    assert _read(path)[1] == [["Born"], ["1904-01-02"]]
    path = _write(tmp_path, _workbook(sheet, styles=STYLES), "windows.xlsx")
    assert _read(path)[1] == [["Born"], ["1900-01-01"]]


def test_a_workbook_written_without_dimension_is_read_and_counted_as_openpyxl_reads_it(
    tmp_path: Path,
) -> None:
    # Written as a program (and this product's own export) writes a workbook: inline strings,
    # no <dimension> (openpyxl reads such a sheet whole before its first row).
    import datetime

    from openpyxl import Workbook, load_workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["Name", "Born", "Seen", "At", "Size", "Share", "VIP", "Note"])
    for n in range(1, 300):
        sheet.append(
            [
                f"Контакт {n} 連絡 ผู้ติดต่อ",
                datetime.date(1990, 1, 1) + datetime.timedelta(days=n),
                # A spreadsheet's date and time has no time zone.
                datetime.datetime(2026, 3, 1, 8, 30) + datetime.timedelta(hours=n),  # noqa: DTZ001
                datetime.time(9, n % 60),
                n * 1000,
                n / 7,
                n % 2 == 0,
                None if n % 3 else f"note {n}, <b>&amp;</b>",
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = _write(tmp_path, buffer.getvalue(), "program.xlsx")
    shape, read = _read(path)
    expected = [
        [reading._xlsx_text(value) for value in row]
        for row in load_workbook(path, read_only=True, data_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    ]
    # A row ends at its last cell, in either reading.
    assert read == expected
    assert reading.count_rows(path, shape) == 299


@pytest.mark.parametrize(
    "sheet",
    [
        pytest.param(
            '<row r="1"><c r="A1"><v>1</v></c></row><row r="2000000"/>', id="row-past-excel"
        ),
        pytest.param('<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2">', id="cut"),
    ],
)
def test_a_sheet_no_spreadsheet_would_write_is_refused(tmp_path: Path, sheet: str) -> None:
    path = _write(tmp_path, _workbook(sheet), "odd.xlsx")
    with pytest.raises(ServiceError) as caught:
        list(reading.iter_rows(path, reading.FileShape("xlsx")))
    assert caught.value.code == "truncated"


def test_a_sheet_declaring_entities_is_refused_before_they_are_expanded(tmp_path: Path) -> None:
    laughs = (
        '<!DOCTYPE worksheet [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    )
    body = _with_sheet_xml(
        _workbook('<row r="1"><c r="A1" t="inlineStr"><is><t>&c;</t></is></c></row>'),
        lambda xml: xml.replace(
            b'<?xml version="1.0"?>', b'<?xml version="1.0"?>' + laughs.encode()
        ),
    )
    path = _write(tmp_path, body, "laughs.xlsx")
    with pytest.raises(ServiceError) as caught:
        list(reading.iter_rows(path, reading.FileShape("xlsx")))
    assert caught.value.code == "truncated"
