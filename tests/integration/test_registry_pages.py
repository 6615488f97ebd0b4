"""The registry officer's console pages (services/registry/pages): the search, a product's page and
its edit forms, the import, and the officer's province scope, over the embedded demo register."""

from __future__ import annotations

import re

import pytest
from registry_pages_support import HA_NOI, TEMPLATE, VINH_LONG, csrf, registry_app, signed_in


class Client:
    """The test client, its form posts carrying the signed-in person's csrf field as a page's form does."""

    def __init__(self, client):
        self.client = client

    def _cookie(self, headers):
        """The session cookie into the client's jar (werkzeug's client sends the jar's, not a Cookie header)."""
        headers = dict(headers or {})
        self.client.set_cookie("ocop_session", headers.pop("Cookie", "=").split("=", 1)[1])
        return headers

    def get(self, url, headers=None, **kwargs):
        return self.client.get(url, headers=self._cookie(headers), **kwargs)

    def post(self, url, data=None, headers=None, **kwargs):
        data = {**(data or {}), **csrf(headers or {})}
        return self.client.post(url, data=data, headers=self._cookie(headers), **kwargs)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with registry_app(tmp_path_factory.mktemp("registry-pages")) as app:
        yield Client(app.test_client())


def as_officer(scope=VINH_LONG, role="registry_officer"):
    return signed_in(scope, role)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def first_product(client, q: str) -> str:
    r = client.get("/console/products", query_string={"q": q}, headers=as_officer())
    assert r.status_code == 200
    found = re.findall(r'href="/console/products/([0-9a-f-]{36})"', r.get_data(as_text=True))
    assert found, text(r)
    return found[0]


def test_search_ignores_diacritics_and_links_each_row(console):
    r = console.get("/console/products", query_string={"q": "keo dua"}, headers=as_officer())
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    assert "Content-Security-Policy" in r.headers
    body = text(r)
    assert "Kẹo dừa" in body
    assert re.search(r'href="/console/products/[0-9a-f-]{36}"', body)


def test_search_filters_and_pages_on_the_server(console):
    r = console.get("/console/products", query_string={"stars": "4"}, headers=as_officer())
    body = text(r)
    assert "90 sản phẩm" in body
    assert "Trang 1/5" in body
    r = console.get("/console/products", query_string={"stars": "4", "page": "5"}, headers=as_officer())
    assert "Trang 5/5" in text(r)
    assert len(re.findall(r'href="/console/products/[0-9a-f-]{36}"', text(r))) == 10


def test_a_bad_filter_is_shown_beside_its_field(console):
    r = console.get("/console/products", query_string={"expiring_before": "31/02/2026"}, headers=as_officer())
    assert r.status_code == 200
    assert re.search(r'id="e-expiring_before">[^<]+<', r.get_data(as_text=True))


def test_product_page_shows_producer_and_certification_history(console):
    product_id = first_product(console, "keo dua")
    body = text(console.get(f"/console/products/{product_id}", headers=as_officer()))
    assert "Lịch sử chứng nhận" in body
    assert "Còn hiệu lực" in body
    assert "Chủ thể" in body and "Bến Tre cũ" in body
    assert 'name="name"' in body


def test_edit_forms_save_or_show_the_error_in_place(console):
    product_id = first_product(console, "keo dua")
    url = f"/console/products/{product_id}"
    r = console.post(url, data={"name": "K", "group": "1"}, headers=as_officer())
    assert r.status_code == 422
    assert re.search(r'id="e-name">[^<]+<', r.get_data(as_text=True))
    r = console.post(url, data={"name": "Kẹo dừa sáp Mỏ Cày", "group": "1"}, headers=as_officer())
    assert r.status_code == 302
    assert "Kẹo dừa sáp Mỏ Cày" in text(console.get(url, headers=as_officer()))
    r = console.post(
        url + "/producer",
        data={"name": "HTX", "kind": "cooperative", "province": "Bến Tre", "email": "khong-phai-email"},
        headers=as_officer(),
    )
    assert r.status_code == 422
    assert re.search(r'id="cs-e-email">[^<]+<', r.get_data(as_text=True))


def test_another_provinces_officer_cannot_see_or_change_it(console):
    product_id = first_product(console, "keo dua")
    hanoi = as_officer(HA_NOI)
    assert "0 sản phẩm" in text(console.get("/console/products", query_string={"q": "keo dua"}, headers=hanoi))
    assert console.get(f"/console/products/{product_id}", headers=hanoi).status_code == 404
    r = console.post(f"/console/products/{product_id}", data={"name": "Đổi tên", "group": "1"}, headers=hanoi)
    assert r.status_code == 404
    assert "Đổi tên" not in text(console.get(f"/console/products/{product_id}", headers=as_officer()))


def test_a_trade_officer_is_refused(console):
    assert console.get("/console/products", headers=as_officer(role="trade_officer")).status_code == 403


def upload(client, content: bytes, action: str, headers=None):
    return client.post(
        "/console/imports",
        data={"file": (__import__("io").BytesIO(content), "qd.csv"), "action": action},
        headers=headers or as_officer(),
        content_type="multipart/form-data",
    )


def test_import_reports_a_bad_row_then_applies_the_fixed_file(console):
    good = TEMPLATE.read_bytes()
    bad = good.replace(b",78,4,", b",muoi,4,")
    r = upload(console, bad, "check")
    assert r.status_code == 422
    body = text(r)
    row = r'<td data-label="Dòng">Dòng 2</td><td data-label="Cột">Điểm</td><td data-label="Giá trị">muoi</td>'
    assert re.search(row + r'<td data-label="Lý do">&#39;muoi&#39; không phải là số</td>', body), body
    r = upload(console, bad, "apply")
    assert r.status_code == 422  # nothing applied
    r = upload(console, good, "check")
    assert r.status_code == 200
    assert "hợp lệ" in text(r) and 'name="carried"' in r.get_data(as_text=True)
    carried = re.search(r'name="carried" value="([^"]+)"', r.get_data(as_text=True)).group(1)
    r = console.post(
        "/console/imports", data={"carried": carried, "filename": "qd.csv", "action": "apply"}, headers=as_officer()
    )
    assert r.status_code == 200
    body = text(r)
    assert "Đã nhập tệp qd.csv" in body and "đã tạo 2 chủ thể, 2 sản phẩm, 2 chứng nhận" in body
    assert re.search(r'href="/console/products/[0-9a-f-]{36}">Kẹo dừa sữa lá dứa', body)


def test_an_officer_cannot_import_another_provinces_rows(console):
    r = upload(console, TEMPLATE.read_bytes(), "apply", headers=as_officer(HA_NOI))
    assert r.status_code == 422
    assert "ngoài phạm vi" in text(r)


def test_the_template_file_downloads(console):
    r = console.get("/console/imports/mau-nhap-quyet-dinh.csv", headers=as_officer())
    assert r.status_code == 200
    assert r.get_data().decode("utf-8-sig").startswith("STT,Mã chủ thể,Tên chủ thể")
    assert r.headers["Content-Disposition"] == 'attachment; filename="mau-nhap-quyet-dinh.csv"'


def test_record_a_decision_by_product_name_then_revoke_it_with_a_reason(console):
    product_id = first_product(console, "keo dua")
    form = console.get(f"/console/decisions/new?product={product_id}", headers=as_officer())
    named = re.search(r'id="f-product-0" name="product-0" type="text" value="([^"]+)"', form.get_data(as_text=True))
    assert named, text(form)
    base = {"number": "77/QĐ-UBND", "date": "15/11/2026", "issued_by": "UBND tỉnh Vĩnh Long", "level": "province"}
    base["kind"] = "recertify"
    r = console.post(
        "/console/decisions/new",
        data={**base, "product-0": named.group(1).replace("&#34;", '"'), "score-0": "", "product-1": "Không có"},
        headers=as_officer(),
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert re.search(r'id="e-score-0">[^<]+<', body) and re.search(r'id="e-product-1">Không tìm thấy', body)
    r = console.post(
        "/console/decisions/new", data={**base, "product-0": named.group(1), "score-0": "82"}, headers=as_officer()
    )
    assert r.status_code == 302, text(r)
    decision_url = r.headers["Location"]
    page = text(console.get(decision_url, headers=as_officer()))
    assert "Quyết định 77/QĐ-UBND" in page and "4★" in page and "Còn hiệu lực" in page
    assert console.get(decision_url, headers=as_officer(HA_NOI)).status_code == 404

    revoke = {"number": "90/QĐ-UBND", "date": "20/11/2026", "issued_by": "UBND tỉnh Vĩnh Long"}
    r = console.post(decision_url + "/revoke", data=revoke, headers=as_officer())
    assert r.status_code == 422
    assert re.search(r'id="e-reason_code">[^<]+<', r.get_data(as_text=True))
    r = console.post(decision_url + "/revoke", data={**revoke, "reason_code": "violation"}, headers=as_officer())
    assert r.status_code == 302, text(r)
    page = text(console.get(r.headers["Location"], headers=as_officer()))
    assert "Thu hồi" in page and "Vi phạm quy định" in page and "Đã thu hồi" in page
    history = text(console.get(f"/console/products/{product_id}", headers=as_officer()))
    assert "Thu hồi theo QĐ 90/QĐ-UBND ngày 20/11/2026" in history
    listing = text(console.get("/console/decisions", headers=as_officer()))
    assert "77/QĐ-UBND" in listing and "90/QĐ-UBND" in listing
    assert "77/QĐ-UBND" not in text(console.get("/console/decisions", headers=as_officer(HA_NOI)))


def test_expiring_certificates_show_the_notices_sent(console):
    r = console.get("/console/certificates/expiring", query_string={"days": "730"}, headers=as_officer())
    assert r.status_code == 200
    body = text(r)
    assert "Chưa gửi" in body or "Đã gửi ngày" in body
    assert re.search(r"\d+ chứng nhận", body)


def test_progress_and_figures_as_charts(console):
    r = console.get("/console/progress", query_string={"year": "2023"}, headers=as_officer())
    assert r.status_code == 200
    body = text(r)
    assert "Tiến độ năm 2023" in body and "Chứng nhận mới" in body
    assert body.count("<svg") >= 5
    assert "200 sản phẩm còn hiệu lực" in body or "sản phẩm còn hiệu lực chứng nhận" in body


def test_the_pages_switch_to_english(console):
    body = text(console.get("/console/products", query_string={"q": "keo dua", "lang": "en"}, headers=as_officer()))
    assert "OCOP products" in body and "Search by product or producer name" in body and "Food" in body
    assert "Tìm theo tên" not in body
    body = text(console.get("/console/imports", query_string={"lang": "en"}, headers=as_officer()))
    assert "Check (dry run)" in body and "Download the template (CSV, Vietnamese headers)" in body
    body = text(console.get("/console/imports", query_string={"lang": "vi"}, headers=as_officer()))
    assert "Kiểm tra (chạy thử)" in body  # and the remembered language is Vietnamese again


def test_create_a_producer_then_its_product_with_errors_in_place(console):
    producer = {"code": "1300999001", "name": "HTX Bưởi da xanh Chợ Lách", "kind": "cooperative"}
    producer.update(province="Bến Tre", preferred_language="vi", consent_email="on")
    r = console.post("/console/producers/new", data={**producer, "email": "sai"}, headers=as_officer())
    assert r.status_code == 422
    assert re.search(r'id="e-email">[^<]+<', r.get_data(as_text=True))
    r = console.post("/console/producers/new", data={**producer, "province": "Hà Nội"}, headers=as_officer())
    assert r.status_code == 422 and "ngoài phạm vi" in text(r)
    r = console.post("/console/producers/new", data=producer, headers=as_officer())
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/products/new?producer=1300999001")
    product = {"producer": "1300999001", "name": "Bưởi da xanh", "group": "1"}
    r = console.post("/console/products/new", data={**product, "producer": "khong-co"}, headers=as_officer())
    assert r.status_code == 422
    assert re.search(r'id="e-producer">[^<]+<', r.get_data(as_text=True))
    assert console.post("/console/products/new", data=product, headers=as_officer(HA_NOI)).status_code == 422
    r = console.post("/console/products/new", data=product, headers=as_officer())
    assert r.status_code == 302
    page = text(console.get(r.headers["Location"], headers=as_officer()))
    assert "<h1>Bưởi da xanh</h1>" in page and "HTX Bưởi da xanh Chợ Lách" in page
