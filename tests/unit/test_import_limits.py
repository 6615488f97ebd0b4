"""Hostile files for the bulk import (services/registry/import_files.py): too many columns, a zip
that unpacks too far, blank rows without end, too many rows, too much time. Each is refused whole
with a 413 naming the limit, quickly and with a short message."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from services.registry import import_files, imports
from services.registry.import_files import FileRefused
from shared import config

HEADER = "Mã số thuế,Tên chủ thể,Loại hình,Tỉnh,Tên sản phẩm,Nhóm,Điểm,Cơ quan cấp,Số quyết định,Ngày quyết định\n"
ROW = "MST{n},HTX Mường Thanh {n},Hợp tác xã,Điện Biên,Gạo {n},1,72,UBND tỉnh Điện Biên,1358/QĐ-UBND,20/7/2025\n"


def refused(data: bytes, filename: str, budget: import_files.Budget | None = None) -> FileRefused:
    started = time.monotonic()
    with pytest.raises(FileRefused) as caught:
        imports.read_table(data, filename, budget)
    assert time.monotonic() - started < 5
    assert len(caught.value.message) < 1000
    return caught.value


def xlsx(sheet_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook written by hand (openpyxl would take long to write the hostile ones)."""
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        b'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        b'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        b'worksheet+xml"/></Types>',
        "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        b'2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        b'<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        b'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        b'Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData>' + sheet_xml + b"</sheetData></worksheet>",
        **(extra or {}),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, body in parts.items():
            z.writestr(name, body)
    return out.getvalue()


def cells(row: int, values: list[str]) -> bytes:
    return (
        f'<row r="{row}">' + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values) + "</row>"
    ).encode()


def test_the_defaults(monkeypatch, tmp_path):
    assert import_files.MAX_COLUMNS == 60
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    for name in ("BYTES", "UNPACKED_BYTES", "ROWS", "SECONDS"):
        monkeypatch.delenv(f"OCOP_IMPORT_MAX_{name}", raising=False)
    defaults = import_files.Budget()
    budget = import_files.Budget.of(config.load("registry"))
    assert (
        (budget.max_bytes, budget.unpacked, budget.rows, budget.seconds)
        == (
            defaults.max_bytes,
            defaults.unpacked,
            defaults.rows,
            defaults.seconds,
        )
        == (16 * 1024 * 1024, 32 * 1024 * 1024, 20_000, 60)
    )
    assert imports.MAX_ERRORS == 200


def test_the_limits_are_the_settings_read_at_start(monkeypatch, tmp_path):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCOP_IMPORT_MAX_ROWS", "1_000")
    monkeypatch.setenv("OCOP_IMPORT_MAX_SECONDS", "5")
    monkeypatch.setenv("OCOP_IMPORT_MAX_BYTES", "2048")
    monkeypatch.setenv("OCOP_IMPORT_MAX_UNPACKED_BYTES", "4096")
    budget = import_files.Budget.of(config.load("registry"))
    assert (budget.max_bytes, budget.unpacked, budget.rows, budget.lines, budget.seconds) == (2048, 4096, 1000, 5000, 5)


def test_a_workbook_as_written_reads():
    table = imports.read_table(
        xlsx(cells(1, HEADER.strip().split(",")) + cells(2, ROW.format(n=1).strip().split(","))), "list.xlsx"
    )
    assert table.format == "xlsx" and len(table.rows) == 1 and table.header[0] == "Mã số thuế"


def test_a_csv_with_100000_columns_is_refused_at_its_first_line():
    data = ("a," * 100_000 + "b\n").encode()  # about 200 kB: the fuzzer's was 689 kB
    err = refused(data, "list.csv")
    assert err.status == 413 and "more than 60 cells" in err.message and err.details["line"] == ["1"]


def test_trailing_empty_cells_are_no_columns():
    data = (HEADER.strip() + "," * 500 + "\n" + ROW.format(n=1).strip() + "," * 500 + "\n").encode()
    table = imports.read_table(data, "list.csv")
    assert len(table.rows) == 1 and len(table.header) == 10


def test_an_xlsx_with_too_many_columns_is_refused():
    err = refused(xlsx(cells(1, [f"c{i}" for i in range(200)])), "list.xlsx")
    assert err.status == 413 and "more than 60 cells" in err.message


def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_openpyxl_opens_it(monkeypatch):
    """33 MiB of shared strings from about 40 kB: a zip bomb, refused by its declared sizes."""
    bomb = xlsx(cells(1, ["a"]), {"xl/sharedStrings.xml": b"<sst>" + b"A" * (33 * 1024 * 1024) + b"</sst>"})
    assert len(bomb) < 100_000

    def never(*_a, **_k):
        raise AssertionError("openpyxl opened the bomb")

    monkeypatch.setattr("openpyxl.load_workbook", never)
    err = refused(bomb, "list.xlsx")
    assert err.status == 413 and "OCOP_IMPORT_MAX_UNPACKED_BYTES" in err.message
    small = xlsx(cells(1, ["x" * 20_000]))
    assert refused(small, "list.xlsx", import_files.Budget(unpacked=10_000)).status == 413


def test_a_zip_with_thousands_of_parts_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(1001):
            z.writestr(f"p{i}", b"")
    assert refused(out.getvalue(), "list.xlsx").status == 413


def test_blank_rows_without_end_are_refused_after_a_bounded_number_of_lines():
    def budget():
        return import_files.Budget(rows=1000)  # 5,000 lines, blank ones included

    err = refused((HEADER + ",,,,,,\r\n" * 200_000).encode(), "list.csv", budget())
    assert err.status == 413 and "more than 5000 lines" in err.message
    sheet = cells(1, ["Mã số thuế"]) + b"".join(f'<row r="{r}"/>'.encode() for r in range(2, 6000))
    assert "more than 5000 lines" in refused(xlsx(sheet), "list.xlsx", budget()).message
    # a row far below the others: the rows between are read as blank lines, and counted
    far = xlsx(cells(1, ["a"]) + cells(1_000_000, ["b"]))
    assert "more than 5000 lines" in refused(far, "list.xlsx", budget()).message


def test_more_rows_than_the_limit_are_refused():
    ok = (HEADER + "".join(ROW.format(n=n) for n in range(100))).encode()
    assert len(imports.read_table(ok, "list.csv", import_files.Budget(rows=100)).rows) == 100
    err = refused(
        (HEADER + "".join(ROW.format(n=n) for n in range(101))).encode(), "list.csv", import_files.Budget(rows=100)
    )
    assert err.status == 413 and "more than 100 rows" in err.message and "OCOP_IMPORT_MAX_ROWS" in err.message


def test_reading_and_checking_stop_at_the_time_limit(monkeypatch):
    clock = iter(range(0, 10**6, 3))  # every look at the clock: 3 s later
    monkeypatch.setattr(import_files.time, "monotonic", lambda: next(clock))
    data = (HEADER + "".join(ROW.format(n=n) for n in range(2000))).encode()
    with pytest.raises(FileRefused) as caught:
        imports.read_table(data, "list.csv", import_files.Budget(seconds=5))
    assert caught.value.status == 413 and "OCOP_IMPORT_MAX_SECONDS" in caught.value.message
    # and the rows' checks look at the same clock
    clock = iter(range(0, 10**6, 1))
    budget = import_files.Budget(seconds=5)
    table = imports.read_table(data, "list.csv", budget)
    clock = iter(range(100, 10**6, 100))
    with pytest.raises(FileRefused) as caught:
        imports.check_rows(table, {}, __import__("datetime").date(2025, 8, 1), budget)
    assert "OCOP_IMPORT_MAX_SECONDS" in caught.value.message


@pytest.mark.parametrize(
    "setting",
    ["OCOP_IMPORT_MAX_ROWS", "OCOP_IMPORT_MAX_SECONDS", "OCOP_IMPORT_MAX_BYTES", "OCOP_IMPORT_MAX_UNPACKED_BYTES"],
)
def test_a_limit_that_is_not_a_positive_number_is_said_so(monkeypatch, tmp_path, setting):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(setting, "lots")
    with pytest.raises(ValueError, match=f"{setting} must be a whole number of at least 1"):
        config.load("registry")
