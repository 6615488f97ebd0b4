"""The trade officer's console pages (services/events/pages): fairs (list, calendar, form with errors
in place, publish, cancel), the live board (names, a phone answer with who recorded it, withdraw,
export), matching (preview, "why not this product?"), and the owner scope."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

import jwt
import pytest
from support import TEST_SECRET

VINH_LONG = {"id": "off-vl", "name": "Nguyễn Thị Lan", "role": "trade_officer", "scope": "so-cong-thuong-vinh-long"}
HA_NOI = {"id": "off-hn", "name": "Trần Văn Minh", "role": "trade_officer", "scope": "so-cong-thuong-ha-noi"}


def _seed(runtime, n: int = 6):
    from services.events.models import CertifiedProduct, ProducerView, ProductView

    names = ["Bưởi Năm Roi Mỹ Hòa", "Khô cá lóc Tư Bé", "Bánh tráng Phú Quới", "Trà Atiso", "Mật ong Bảy Núi"]
    with runtime.transaction() as s:
        for i in range(n):
            producer, product = f"pr-{i}", f"pd-{i}"
            name = names[i] if i < len(names) else f"Sản phẩm {i}"
            s.add(
                ProducerView(
                    producer_id=producer,
                    name=f"HTX Số {i}",
                    kind="cooperative",
                    province="Vĩnh Long",
                    region="mekong_delta",
                    source_version=1,
                )
            )
            s.add(ProductView(product_id=product, producer_id=producer, name=name, group=1, source_version=1))
            if i < n - 1:  # the last one is never certified: "why not?" says so
                s.add(
                    CertifiedProduct(
                        product_id=product,
                        product_name=name,
                        producer_id=producer,
                        producer_name=f"HTX Số {i}",
                        producer_kind="cooperative",
                        group=1,
                        province="Vĩnh Long",
                        region="mekong_delta",
                        stars=3 + i % 3,
                        certification_id=f"c-{i}",
                        valid_until=date.today() + timedelta(days=900),
                        source_version=1,
                    )
                )


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    import shared.auth

    if not hasattr(shared.auth, "page"):
        pytest.skip("the console sessions (shared.auth.page, A1's) have not landed")
    from support import TEST_TOKEN_PUBLIC_KEY

    from services.events.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    tmp = tmp_path_factory.mktemp("events-pages")
    settings = dataclasses.replace(
        load("events"),
        database_url=f"sqlite:///{tmp / 'events.sqlite'}",
        secret_key=TEST_SECRET,
        token_public_key=TEST_TOKEN_PUBLIC_KEY,
    )
    app = create_app(settings=settings, migrate=True)
    _seed(runtime_of(app))
    yield app.test_client()
    runtime_of(app).engine.dispose()


_SESSIONS: dict[str, tuple[str, str]] = {}


def session_of(user) -> tuple[str, str]:
    """A real console session (shared.sessions, signed with the test issuer key): (cookie, csrf)."""
    from support import TEST_TOKEN_KEY

    from shared.sessions import issue_session  # after shared.auth, which it extends

    if user["id"] not in _SESSIONS:
        token = issue_session(TEST_TOKEN_KEY, {**user, "email": f"{user['id']}@example.vn"})
        _SESSIONS[user["id"]] = (token, jwt.decode(token, options={"verify_signature": False})["csrf"])
    return _SESSIONS[user["id"]]


def get(client, user, url):
    client.set_cookie("ocop_session", session_of(user)[0])
    return client.get(url)


def post(client, user, url, data=None, csrf: bool = True, **headers):
    """A form post as the browser sends it from one of our pages (same origin, with the csrf field)."""
    client.set_cookie("ocop_session", session_of(user)[0])
    fields = {**(data or {}), **({"csrf": session_of(user)[1]} if csrf else {})}
    return client.post(url, data=fields, headers={"Sec-Fetch-Site": "same-origin", **headers})


def form(**over):
    start = date.today() + timedelta(days=60)
    data = {
        "name": "Hội chợ OCOP Vĩnh Long mùa xuân",
        "kind": "trade_fair",
        "organiser": "Sở Công Thương Vĩnh Long",
        "organiser_contact": "Chị Lan",
        "organiser_phone": "0270 3822 123",
        "host_province": "Vinh Long",
        "venue": "Quảng trường Văn hóa",
        "venue_kind": "trade_centre",
        "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=4)).isoformat(),
        "invitation_deadline": (start - timedelta(days=20)).isoformat() + "T17:00",
        "capacity": "3",
        "subsidy_per_booth": "12.000.000",
        "budget": "36.000.000",
        "rules.min_stars": "3",
        "rules.top_up": "on",
    }
    data.update(over)
    return data


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _create(client, user=VINH_LONG, **over) -> str:
    r = post(client, user, "/console/fairs/new", form(**over))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return r.headers["Location"].rstrip("/").split("/")[-1]


def test_a_form_with_bad_fields_shows_each_error_beside_its_field(console):
    r = post(
        console,
        VINH_LONG,
        "/console/fairs/new",
        form(name="", capacity="nhiều", host_province="Atlantis", **{"rules.quota_2": "50"}),
    )
    assert r.status_code == 422, r.get_data(as_text=True)[:600]
    html = r.get_data(as_text=True)
    for name in ("name", "capacity", "host_province"):
        assert f'id="{name}-error"' in html, name
        assert re.search(rf'id="{re.escape(name)}"[^>]*aria-invalid="true"', html), name
    assert 'value="Quảng trường Văn hóa"' in html  # what was typed is kept


def test_create_list_calendar_and_scope(console):
    fair_id = _create(console)
    listing = _text(get(console, VINH_LONG, "/console/fairs").get_data(as_text=True))
    assert "Hội chợ OCOP Vĩnh Long mùa xuân" in listing
    assert "Bản nháp" in listing and "0/3" in listing
    month = (date.today() + timedelta(days=60)).strftime("%Y-%m")
    cal = get(console, VINH_LONG, f"/console/fairs/calendar?month={month}").get_data(as_text=True)
    assert f"/console/fairs/{fair_id}" in cal
    # another scope neither sees nor changes it
    other = get(console, HA_NOI, "/console/fairs").get_data(as_text=True)
    assert "Hội chợ OCOP Vĩnh Long mùa xuân" not in other
    assert get(console, HA_NOI, f"/console/fairs/{fair_id}").status_code == 404
    assert post(console, HA_NOI, f"/console/fairs/{fair_id}/publish").status_code == 404
    assert post(console, HA_NOI, f"/console/fairs/{fair_id}/cancel", {"reason": "không"}).status_code == 404
    board = _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Bản nháp" in board


def test_edit_matching_publish_phone_answer_withdraw_export_cancel(console):
    fair_id = _create(console, name="Hội chợ nông sản Vĩnh Long")
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/edit", form(name="Hội chợ nông sản Vĩnh Long 2027"))
    assert r.status_code == 302
    page = _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}/matching?q=buoi nam roi").get_data(as_text=True))
    assert "HTX Số 0" in page and "Hạng sao" in page  # the ranking with its score parts
    assert "Bưởi Năm Roi Mỹ Hòa" in page  # found without diacritics
    why = _text(
        get(console, VINH_LONG, f"/console/fairs/{fair_id}/matching?q=Sản phẩm 5&product=pd-5").get_data(as_text=True)
    )
    assert "Vì sao" in why and ("no certified" in why or "Không đủ" in why or "not" in why)
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish")
    assert r.status_code == 302
    board = get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in board
    assert "HTX Số" in board and "Đang mời" in _text(board)
    issued = re.findall(r'/console/invitations/([^/"]+)/phone-answer', board)
    assert len(issued) == 3
    r = post(
        console, VINH_LONG, f"/console/invitations/{issued[0]}/phone-answer", {"answer": "accept", "note": "gọi lúc 9h"}
    )
    assert r.status_code == 302
    board = _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Nguyễn Thị Lan ghi nhận" in board and "Gian số 1" in board
    r = post(console, VINH_LONG, f"/console/invitations/{issued[1]}/withdraw", {"reason": "Trùng lịch"})
    assert r.status_code == 302
    board = _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Trùng lịch" in board
    csv = get(console, VINH_LONG, f"/console/fairs/{fair_id}/participants.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "HTX Số" in csv.get_data(as_text=True)
    assert get(console, HA_NOI, f"/console/fairs/{fair_id}/participants.csv").status_code == 404
    assert post(console, HA_NOI, f"/console/invitations/{issued[2]}/withdraw", {"reason": "x y z"}).status_code == 404
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/cancel", {"reason": "Mưa bão"})
    assert r.status_code == 302
    assert "Đã huỷ" in _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))


def test_a_form_post_without_the_csrf_field_or_from_another_site_is_refused(console):
    fair_id = _create(console, name="Hội chợ chống giả mạo biểu mẫu")
    assert post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish", csrf=False).status_code == 403
    cross = post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish", **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert "Bản nháp" in _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))


def test_a_fair_created_in_the_console_belongs_to_its_creators_scope(console):
    from services.events.models import Fair
    from shared.web import runtime_of

    with runtime_of(console.application).transaction() as s:
        owners = {f.name: f.owner_scope for f in s.query(Fair)}
    assert owners["Hội chợ chống giả mạo biểu mẫu"] == "so-cong-thuong-vinh-long"


def test_season_preview_and_apply_then_figures(console):
    first = _create(console, name="Phiên chợ OCOP mùa hè")
    second = _create(console, name="Tuần hàng OCOP mùa hè", venue="Nhà văn hóa tỉnh")
    theirs = _create(console, HA_NOI, name="Hội chợ Hà Nội mùa hè", host_province="Hà Nội")
    page = get(console, VINH_LONG, "/console/season").get_data(as_text=True)
    assert "Phiên chợ OCOP mùa hè" in page and "Hội chợ Hà Nội mùa hè" not in page
    preview = get(console, VINH_LONG, f"/console/season?preview=1&fair={first}&fair={second}&fair={theirs}")
    html = preview.get_data(as_text=True)
    assert "Kế hoạch xem trước" in html and "<svg" in html and "Đồng bằng sông Cửu Long" in html
    assert "Hội chợ Hà Nội mùa hè" not in html  # another scope's fair is left out of the plan
    empty = get(console, VINH_LONG, "/console/season?preview=1").get_data(as_text=True)
    assert 'id="fair-error"' in empty
    r = post(console, VINH_LONG, "/console/season", {"fair": [first, second, theirs]})
    assert r.status_code == 302
    for fair_id in (first, second):
        assert "Đang mời" in _text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Bản nháp" in _text(get(console, HA_NOI, f"/console/fairs/{theirs}").get_data(as_text=True))
    year = (date.today() + timedelta(days=60)).year
    figures = get(console, VINH_LONG, f"/console/figures?year={year}").get_data(as_text=True)
    assert "Tỷ lệ lấp đầy gian hàng" in figures and "<svg" in figures
    assert "Phiên chợ OCOP mùa hè" in figures and "Hội chợ Hà Nội mùa hè" not in figures
