"""Bulk import of a decision's list through POST /imports and `manage import`, in both modes.

A dry run reports every bad row by line and field and writes nothing; an apply writes producers,
products, certifications and their events all together or nothing; the same file twice changes
nothing the second time; CSV and XLSX give the same result. Producers here live in provinces no
other test's fair admits (the Bến Tre rows are 3★, below test_flow's fairs)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import unicodedata
import uuid
from datetime import datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import text
from support import ROOT, wait_for
from test_bad_input import refused, unchanged, vn_today

HEADER = [
    "STT",
    "Mã số thuế",
    "Tên chủ thể",
    "Loại hình",
    "Tỉnh",
    "Tên sản phẩm",
    "Nhóm",
    "Phân nhóm",
    "Điểm",
    "Số sao",
    "Hình thức",
    "Cơ quan cấp",
    "Số quyết định",
    "Ngày quyết định",
]


def code() -> str:
    return f"IM{uuid.uuid4().hex[:10].upper()}"


def row(
    n,
    producer_code,
    name="Hợp tác xã Nông nghiệp Mường Thanh",
    kind="Hợp tác xã",
    province="Điện Biên",
    product="Gạo Séng Cù",
    group="1",
    subgroup="1.2",
    score="72",
    stars="4",
    cert_kind="Mới",
    issued_by="UBND tỉnh Điện Biên",
    number="1358/QĐ-UBND",
    day="20/7/2025",
) -> list:
    return [
        n,
        producer_code,
        name,
        kind,
        province,
        product,
        group,
        subgroup,
        score,
        stars,
        cert_kind,
        issued_by,
        number,
        day,
    ]


def csv_file(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # as Excel's "CSV UTF-8" saves it
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[str(c) for c in r] for r in rows])
    return out.getvalue().encode("utf-8")


def xlsx_file(rows, header=HEADER) -> bytes:
    """The same rows as an office types them in a spreadsheet: numbers as numbers, dates as date cells."""
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        cells = list(r)
        for i in (0, 6, 8, 9):
            if str(cells[i]).isdigit():
                cells[i] = int(cells[i])
        d, m, y = (int(x) for x in str(cells[13]).split("/"))
        cells[13] = datetime(y, m, d)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(api, content: bytes, filename="quyet-dinh.csv", role="registry_officer", **form):
    form = {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
    return api.call("POST", "registry", "/imports", role, files={"file": (filename, content)}, data=form)


def report_of(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def count(platform, sql: str, **params) -> int:
    with platform.runtimes["registry"].session_factory() as s:
        return s.execute(text(sql), params).scalar_one()


def outbox_by_type(platform) -> dict[str, int]:
    with platform.runtimes["registry"].session_factory() as s:
        return dict(s.execute(text("SELECT type, count(*) FROM outbox GROUP BY type")).all())


def decision_rows(producer_a: str, producer_b: str) -> list[list]:
    """One decision of Điện Biên: two producers, three products."""
    return [
        row(1, producer_a, product="Gạo Séng Cù Mường Thanh"),
        row(2, producer_a, product="Chè Shan tuyết Tủa Chùa", subgroup="1.5", score="65", stars="3"),
        row(
            3,
            producer_b,
            name="Công ty TNHH Cà phê Điện Biên",
            kind="Doanh nghiệp",
            product="Cà phê Arabica Điện Biên",
            subgroup="1.6",
            score="81",
            stars="",
        ),
    ]


# ---- dry run ---------------------------------------------------------------------------------
def test_a_dry_run_reports_every_bad_row_with_line_and_field_and_writes_nothing(platform, api):
    a, b = code(), code()
    future = (vn_today() + timedelta(days=5)).strftime("%d/%m/%Y")
    rows = [
        *decision_rows(a, b),
        row(4, a, product="Mật ong bạc hà", score="105"),
        row(5, a, product="Măng khô", score="78", stars="3"),
        row(6, a, product="Tỏi cô đơn", day="31/02/2025"),
        row(7, a, product="Rượu ngô", day=future),
        row(8, code(), name="HTX Atlantis", province="Atlantis", product="Sản phẩm lạ"),
        row(9, a, product="Khoai sọ", group="7"),
        row(10, a, product="Lạc đỏ", subgroup="Trà xanh"),
        row(11, a, product="Gạo Séng Cù Mường Thanh"),  # line 2's product again
        row(12, code(), product="Nếp tan"),  # the same producer, another code
        row(13, a, product="Sâm", day="20/07/21"),
    ]
    with unchanged(platform, "registry"):
        report = report_of(upload(api, csv_file(rows)))
    assert report["dry_run"] is True and report["applied"] is False and report["valid"] is False
    assert {(e["line"], e["field"]) for e in report["errors"]} == {
        (5, "score"),
        (6, "stars"),
        (7, "decision_date"),
        (8, "decision_date"),
        (9, "province"),
        (10, "group"),
        (11, "subgroup"),
        (12, "product_name"),
        (13, "producer_code"),
        (14, "decision_date"),
    }
    by = {e["line"]: e for e in report["errors"]}
    assert by[5]["column"] == "Điểm" and by[5]["value"] == "105"
    assert by[9]["column"] == "Tỉnh" and "Atlantis" in by[9]["message"]
    assert "31/02/2025" in by[7]["message"] and by[8]["message"] == "is in the future"
    assert "line 2" in by[12]["message"] and "line 2" in by[13]["message"]
    assert "10 of 13 rows have errors" in report["message"]
    # and what an apply of the good rows would do
    assert report["summary"] == {
        "producers": {"created": 2, "matched": 0},
        "products": {"created": 3, "matched": 0},
        "certifications": {"created": 3, "unchanged": 0, "superseded": 0},
        "events": 8,
    }
    assert [(r["line"], r["producer"], r["product"], r["certification"]) for r in report["rows"]] == [
        (2, "created", "created", "created"),
        (3, "created", "created", "created"),
        (4, "created", "created", "created"),
    ]


def test_an_apply_with_one_bad_row_writes_nothing(platform, api):
    a, b = code(), code()
    rows = [
        *decision_rows(a, b),
        row(
            4,
            b,
            name="Công ty TNHH Cà phê Điện Biên",
            kind="Doanh nghiệp",
            product="Cà phê Robusta",
            score="78",
            stars="5",
        ),
    ]
    with unchanged(platform, "registry"):
        body = refused(upload(api, csv_file(rows), dry_run=False), 422, "rows.5.stars", location="files")
    assert "1 of 4 rows have errors; nothing was imported" in body["message"]
    assert "5★ disagrees with score 78" in body["errors"]["files"]["rows"]["5"]["stars"][0]
    assert count(platform, "SELECT count(*) FROM producers WHERE code IN (:a, :b)", a=a, b=b) == 0


# ---- apply, then the same file again ---------------------------------------------------------
def test_apply_writes_rows_and_events_and_the_same_file_twice_changes_nothing(platform, api):
    a, b = code(), code()
    content = csv_file(decision_rows(a, b))
    events_before = outbox_by_type(platform)
    imports_before = count(platform, "SELECT count(*) FROM imports")
    report = report_of(upload(api, content, dry_run=False))
    assert report["applied"] is True and report["valid"] is True and report["import_id"]
    assert report["summary"]["events"] == 8 and report["message"].startswith("created 2 producers, 3 products")
    events = outbox_by_type(platform)
    delta = {t: events.get(t, 0) - events_before.get(t, 0) for t in events}
    assert {t: n for t, n in delta.items() if n} == {
        "registry.producer.registered": 2,
        "registry.product.registered": 3,
        "registry.certification.granted": 3,
    }
    assert count(platform, "SELECT count(*) FROM imports") == imports_before + 1
    # the records, as the API shows them
    first = report["rows"][0]
    producer = api.call("GET", "registry", f"/producers/{first['producer_id']}", "registry_officer").json()
    assert (producer["code"], producer["kind"], producer["province"]) == (a, "cooperative", "Điện Biên")
    product = api.call("GET", "registry", f"/products/{first['product_id']}", "registry_officer").json()
    assert (product["name"], product["subgroup"], product["version"]) == ("Gạo Séng Cù Mường Thanh", "1.2", 2)
    cert = api.call("GET", "registry", f"/certifications/{first['certification_id']}", "registry_officer").json()
    assert (
        cert["stars"],
        cert["score"],
        cert["criteria_version"],
        cert["decision_date"],
        cert["valid_until"],
        cert["issued_by"],
    ) == (4, 72, "148/QĐ-TTg", "2025-07-20", "2028-07-20", "UBND tỉnh Điện Biên")
    # the events are those of the single-record API, and reach the events service's read model
    with platform.runtimes["registry"].session_factory() as s:
        payload = s.execute(
            text("SELECT payload FROM outbox WHERE type = 'registry.certification.granted' AND payload LIKE :p"),
            {"p": f"%{first['certification_id']}%"},
        ).scalar_one()
    envelope = json.loads(payload)
    assert (
        envelope["subject"],
        envelope["subject_version"],
        envelope["data"]["producer_name"],
        envelope["data"]["stars"],
    ) == (first["product_id"], 2, "Hợp tác xã Nông nghiệp Mường Thanh", 4)
    seen = wait_for(
        lambda: (r := api.call("GET", "events", f"/catalogue/{first['product_id']}", "trade_officer")).ok and r.json(),
        message="read model row",
    )
    assert (seen["product_name"], seen["stars"], seen["province"]) == ("Gạo Séng Cù Mường Thanh", 4, "Điện Biên")

    # the same file again: nothing changes, visibly
    with unchanged(platform, "registry"):
        again = report_of(upload(api, content, dry_run=False))
        dry = report_of(upload(api, content))
    assert count(platform, "SELECT count(*) FROM imports") == imports_before + 1
    for r in (again, dry):
        assert r["summary"] == {
            "producers": {"created": 0, "matched": 2},
            "products": {"created": 0, "matched": 3},
            "certifications": {"created": 0, "unchanged": 3, "superseded": 0},
            "events": 0,
        }
        assert [x["certification"] for x in r["rows"]] == ["unchanged"] * 3
        assert [p["id"] for p in r["previous_imports"]] == [report["import_id"]]
        assert "applied before" in r["message"]
    assert again["applied"] is False and again["message"].startswith("nothing to apply")
    assert [x["certification_id"] for x in again["rows"]] == [x["certification_id"] for x in report["rows"]]


def test_xlsx_and_csv_give_the_same_result(platform, api):
    a, b = code(), code()
    rows = decision_rows(a, b)
    rows_bad = [*rows, row(4, a, product="Măng khô", score="101")]
    csv_dry = report_of(upload(api, csv_file(rows_bad)))
    xlsx_dry = report_of(upload(api, xlsx_file(rows_bad), filename="quyet-dinh.xlsx"))
    assert (csv_dry["file"]["format"], xlsx_dry["file"]["format"]) == ("csv", "xlsx")
    for key in ("summary", "errors", "rows", "valid"):
        assert csv_dry[key] == xlsx_dry[key], key
    assert [(e["line"], e["field"]) for e in xlsx_dry["errors"]] == [(5, "score")]
    applied = report_of(upload(api, xlsx_file(rows), filename="quyet-dinh.xlsx", dry_run=False))
    assert applied["applied"] is True and applied["summary"]["certifications"]["created"] == 3
    # the CSV of the same list now finds everything in the register
    after = report_of(upload(api, csv_file(rows), dry_run=False))
    assert after["applied"] is False and after["summary"]["certifications"] == {
        "created": 0,
        "unchanged": 3,
        "superseded": 0,
    }
    assert after["previous_imports"] == []  # another file (by its bytes) than the one applied


def test_vietnamese_names_round_trip_and_old_provinces_land_on_the_new_one(platform, api):
    a = code()
    typed = unicodedata.normalize("NFD", "Hợp tác xã Dừa sáp Cầu Kè Ngọc Hạnh")
    rows = [
        row(
            1,
            a,
            name=typed,
            province="tinh ben tre",
            product="Kẹo dừa sáp Ngọc Hạnh",
            score="61",
            stars="3",
            issued_by="UBND tỉnh Bến Tre",
            day="20/7/2021",
        ),
        row(
            2,
            a,
            name=typed,
            province="Bến Tre",
            product="Mứt dừa non Bến Tre",
            score="55",
            stars="",
            issued_by="UBND tỉnh Bến Tre",
            day="20/07/2021",
        ),
    ]
    report = report_of(upload(api, csv_file(rows), dry_run=False))
    assert report["applied"] is True, report
    producer = api.call("GET", "registry", f"/producers/{report['rows'][0]['producer_id']}", "registry_officer").json()
    assert producer["name"] == "Hợp tác xã Dừa sáp Cầu Kè Ngọc Hạnh"
    assert unicodedata.is_normalized("NFC", producer["name"])
    assert (producer["province"], producer["province_entered"], producer["region"]) == (
        "Vĩnh Long",
        "Bến Tre",
        "mekong_delta",
    )
    products = api.call(
        "GET", "registry", f"/products?producer_id={producer['id']}&sort=name", "registry_officer"
    ).json()["items"]
    assert [p["name"] for p in products] == ["Kẹo dừa sáp Ngọc Hạnh", "Mứt dừa non Bến Tre"]
    cert = api.call(
        "GET", "registry", f"/certifications/{report['rows'][0]['certification_id']}", "registry_officer"
    ).json()
    assert (cert["criteria_version"], cert["decision_date"]) == ("1048/QĐ-TTg", "2021-07-20")
    found = api.call("GET", "registry", "/products?q=keo%20dua%20sap%20ngoc%20hanh", "registry_officer").json()
    assert [p["id"] for p in found["items"]] == [products[0]["id"]]


def test_a_product_is_matched_ignoring_diacritics_and_case_and_recertified(platform, api):
    a = code()
    first = [
        row(
            1,
            a,
            province="Sơn La",
            product="Chè Shan tuyết Tà Xùa",
            subgroup="1.5",
            score="72",
            issued_by="UBND tỉnh Sơn La",
            number="100/QĐ-UBND",
            day="01/03/2024",
        )
    ]
    applied = report_of(upload(api, csv_file(first), dry_run=False))
    product_id = applied["rows"][0]["product_id"]
    later = [
        row(
            1,
            a,
            province="Sơn La",
            product="CHE SHAN TUYET TA XUA",
            subgroup="1.5",
            score="80",
            cert_kind="Tái chứng nhận",
            issued_by="UBND tỉnh Sơn La",
            number="200/QĐ-UBND",
            day="02/03/2025",
        )
    ]
    report = report_of(upload(api, csv_file(later), dry_run=False))
    assert [(r["producer"], r["product"], r["certification"], r["product_id"]) for r in report["rows"]] == [
        ("matched", "matched", "created", product_id)
    ]
    assert report["summary"]["certifications"]["superseded"] == 1 and report["summary"]["events"] == 1
    old = api.call(
        "GET", "registry", f"/certifications/{applied['rows'][0]['certification_id']}", "registry_officer"
    ).json()
    assert old["status"] == "superseded"
    product = api.call("GET", "registry", f"/products/{product_id}", "registry_officer").json()
    assert product["version"] == 3 and product["name"] == "Chè Shan tuyết Tà Xùa"
    # the API's rules for a product that holds a current certification
    with unchanged(platform, "registry"):
        for kind, score, field, says in (
            ("Mới", "85", "kind", "already has a current certification"),
            ("Nâng sao", "75", "score", "an upgrade must raise the stars"),
        ):
            again = [
                row(
                    1,
                    a,
                    province="Sơn La",
                    product="Chè Shan tuyết Tà Xùa",
                    subgroup="1.5",
                    score=score,
                    cert_kind=kind,
                    issued_by="UBND tỉnh Sơn La",
                    number="300/QĐ-UBND",
                    day="03/03/2025",
                )
            ]
            report = report_of(upload(api, csv_file(again)))
            [error] = report["errors"]
            assert (error["line"], error["field"]) == (2, field) and says in error["message"], error
        # a matched product keeps its group: a file does not move it
        moved = [
            row(
                1,
                a,
                province="Sơn La",
                product="Chè Shan tuyết Tà Xùa",
                group="2",
                subgroup="",
                score="85",
                cert_kind="Tái chứng nhận",
                issued_by="UBND tỉnh Sơn La",
                number="300/QĐ-UBND",
                day="3/3/2025",
            )
        ]
        [error] = report_of(upload(api, csv_file(moved)))["errors"]
        assert error["field"] == "group" and "PATCH /products/" in error["message"]
        # one decision is recorded once: the same decision with another score is refused
        clash = [
            row(
                1,
                a,
                province="Sơn La",
                product="Chè Shan tuyết Tà Xùa",
                subgroup="1.5",
                score="81",
                cert_kind="Tái chứng nhận",
                issued_by="UBND tỉnh Sơn La",
                number="200/QĐ-UBND",
                day="2/3/2025",
            )
        ]
        [error] = report_of(upload(api, csv_file(clash)))["errors"]
        assert (
            error["field"] == "score" and "already has a certification under decision 200/QĐ-UBND" in error["message"]
        )


def test_the_decision_can_be_given_once_for_the_whole_file(platform, api):
    a = code()
    header = HEADER[:11]
    rows = [r[:11] for r in decision_rows(a, code())]
    form = {"issued_by": "UBND tỉnh Điện Biên", "decision_number": "77/QĐ-UBND", "decision_date": "5/6/2025"}
    with unchanged(platform, "registry"):
        body = refused(
            upload(api, csv_file(rows, header)),
            422,
            "columns.decision_number",
            "columns.decision_date",
            "columns.issued_by",
            location="files",
        )
        assert "Số quyết định" in body["errors"]["files"]["columns"]["decision_number"][0]
        refused(
            upload(api, csv_file(rows, header), **{**form, "decision_date": "31/6/2025"}),
            422,
            "decision_date",
            location="files",
        )
        future = (vn_today() + timedelta(days=1)).strftime("%d/%m/%Y")
        refused(
            upload(api, csv_file(rows, header), **{**form, "decision_date": future}),
            422,
            "decision_date",
            location="files",
        )
    report = report_of(upload(api, csv_file(rows, header), dry_run=False, **form))
    assert report["applied"] is True
    cert = api.call(
        "GET", "registry", f"/certifications/{report['rows'][0]['certification_id']}", "registry_officer"
    ).json()
    assert (cert["decision_number"], cert["decision_date"], cert["issued_by"]) == (
        "77/QĐ-UBND",
        "2025-06-05",
        "UBND tỉnh Điện Biên",
    )


# ---- malformed files ---------------------------------------------------------------------------
def test_a_file_not_in_utf8_is_refused_saying_so_and_where(platform, api):
    header = (
        "producer_code,producer_name,producer_kind,province,product_name,group,score,issued_by,"
        "decision_number,decision_date\r\n"
    )
    line = f"{code()},Công ty Cà phê,enterprise,Sơn La,Cà phê,1,70,UBND,1/QĐ,1/1/2025\r\n"
    windows = (header + line).encode("cp1258")  # Windows-1258, as Excel's plain "CSV" saves Vietnamese
    latin = b"Ma so thue,T\xean ch\xfa th\xea\n"
    with unchanged(platform, "registry"):
        for data, line_no in ((windows, 2), (latin, 1)):
            body = refused(upload(api, data), 422, "file", "line", location="files")
            assert "not UTF-8" in body["message"] and f"line {line_no}," in body["message"], body["message"]
            assert body["errors"]["files"]["line"] == [str(line_no)]
    ok = report_of(upload(api, b"\xef\xbb\xbf" + (header + line).encode("utf-8")))  # UTF-8 with a BOM: read
    assert ok["valid"] is True and ok["rows"][0]["product_name"] == "Cà phê"


@pytest.mark.parametrize(
    ("content", "filename", "status", "says"),
    [
        (b"", "list.csv", 422, "empty"),
        (("\ufeff" + ",".join(HEADER) + "\r\n").encode(), "list.csv", 422, "no rows"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "quyet-dinh.pdf", 415, "neither CSV nor XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "list.xls", 415, "Excel 97-2003"),
        (b"PK\x03\x04garbage", "list.xlsx", 415, "not a readable XLSX"),
    ],
)
def test_files_that_cannot_be_read_are_refused_naming_the_file(platform, api, content, filename, status, says):
    with unchanged(platform, "registry"):
        body = refused(upload(api, content, filename=filename), status, "file", location="files")
    assert says in body["message"], body["message"]


def test_missing_and_unknown_columns_are_named(platform, api):
    header = [
        "Mã số thuế",
        "Tên chủ thể",
        "Loại hình",
        "Tỉnh",
        "Tên sản phẩm",
        "Màu bao bì",
        "Điểm",
        "Số quyết định",
        "Ngày quyết định",
        "Cơ quan cấp",
    ]
    content = csv_file([[code(), "HTX A", "HTX", "Điện Biên", "Gạo", "đỏ", "70", "1/QĐ", "1/1/2025", "UBND"]], header)
    with unchanged(platform, "registry"):
        body = refused(upload(api, content), 422, "columns.group", "columns.Màu bao bì", location="files")
    assert set(body["errors"]["files"]["columns"]) == {"group", "Màu bao bì"}
    assert "Nhóm" in body["errors"]["files"]["columns"]["group"][0]


def test_the_import_limits_are_read_at_start_not_at_each_import(api, monkeypatch):
    """A variable changed under a running service changes nothing (the old code read it at each import)."""
    content = csv_file(decision_rows(code(), code()))
    monkeypatch.setenv("OCOP_IMPORT_MAX_BYTES", "100")
    monkeypatch.setenv("OCOP_IMPORT_MAX_ROWS", "1")
    report = report_of(upload(api, content))  # a dry run: three rows, well over both
    assert len(report["rows"]) == 3


def test_an_upload_over_the_limit_is_a_413_and_other_bad_requests(platform, api, monkeypatch):
    content = csv_file(decision_rows(code(), code()))
    runtime = platform.runtimes["registry"]
    started_with = runtime.settings

    def limit(max_bytes: int) -> None:  # OCOP_IMPORT_MAX_BYTES, as the registry read it at start
        monkeypatch.setattr(runtime, "settings", dataclasses.replace(started_with, import_max_bytes=max_bytes))

    limit(len(content) - 1)
    with unchanged(platform, "registry"):
        body = refused(upload(api, content), 413, "file", location="files")
        assert str(len(content) - 1) in body["message"]
        limit(100)
        refused(upload(api, content + b" " * 70_000), 413, "file", location="files")  # refused before reading
        monkeypatch.setattr(runtime, "settings", started_with)
        refused(
            api.call("POST", "registry", "/imports", "registry_officer", data={"dry_run": "false"}),
            422,
            "file",
            location="files",
        )
        refused(upload(api, content, dry_run="perhaps"), 422, "dry_run", location="files")
        refused(upload(api, content, colour="red"), 422, "colour", location="files")
        for role in ("trade_officer", "producer", "integration"):
            refused(upload(api, content, role=role, dry_run=False), 403)
        refused(api.call("POST", "registry", "/imports", files={"file": ("a.csv", content)}), 401)


def test_the_upload_is_documented_in_openapi(api):
    spec = api.http.get(api.urls["registry"] + "/openapi.json", timeout=10).json()
    body = spec["paths"]["/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
    assert (schema["properties"]["file"]["type"], schema["properties"]["file"]["format"]) == ("string", "binary")
    assert {"dry_run", "issued_by", "decision_number", "decision_date"} <= set(schema["properties"])
    assert schema["required"] == ["file"]
    assert "413" in spec["paths"]["/imports"]["post"]["responses"]


# ---- the command line --------------------------------------------------------------------------
def manage(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.registry.manage", "import", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_prints_the_same_report(platform, api, tmp_path):
    a, b = code(), code()
    path = tmp_path / "quyết định 77.csv"
    header = HEADER[:11]
    path.write_bytes(csv_file([r[:11] for r in decision_rows(a, b)], header))
    decision = [
        "--decision-number",
        "88/QĐ-UBND",
        "--decision-date",
        "20/07/2025",
        "--issued-by",
        "UBND tỉnh Điện Biên",
    ]
    with unchanged(platform, "registry"):
        dry = manage(str(path), *decision)
        assert dry.returncode == 0, dry.stderr
        report = json.loads(dry.stdout)
        assert report["dry_run"] is True and report["summary"]["events"] == 8
        http = report_of(
            upload(
                api,
                path.read_bytes(),
                filename=path.name,
                decision_number="88/QĐ-UBND",
                decision_date="20/07/2025",
                issued_by="UBND tỉnh Điện Biên",
            )
        )
        assert report == http
        bad = manage(str(path), "--decision-number", "88/QĐ-UBND", "--decision-date", "31/02/2025")
        assert bad.returncode == 2 and "decision_date" in bad.stdout
    applied = manage(str(path), "--apply", *decision)
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["applied"] is True
    assert count(platform, "SELECT count(*) FROM producers WHERE code IN (:a, :b)", a=a, b=b) == 2
    with unchanged(platform, "registry"):
        again = manage(str(path), "--apply", *decision)
        assert again.returncode == 0 and json.loads(again.stdout)["message"].startswith("nothing to apply")
        wrong = tmp_path / "sai.csv"
        wrong.write_bytes(
            csv_file([r[:11] for r in decision_rows(code(), code())][:1] + [row(2, code(), score="120")[:11]], header)
        )
        refused_ = manage(str(wrong), "--apply", *decision)
        assert refused_.returncode == 1 and json.loads(refused_.stdout)["errors"][0]["field"] == "score"
