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
