"""The trade officer's console pages (services/events/pages): fairs (list, calendar, form with errors
in place, publish, cancel), the live board (names, a phone answer with who recorded it, withdraw,
export), matching (preview, "why not this product?"), and the owner scope."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from events_pages_support import HA_NOI, VINH_LONG, create, events_app, form, get, post, text


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with events_app(tmp_path_factory.mktemp("events-pages")) as app:
        yield app.test_client()


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
    assert re.search(r'id="name-error">Bắt buộc nhập\.<', html)  # said in Vietnamese
    assert "Không có tỉnh, thành phố «Atlantis»." in text(html) and "Phải là một số." in text(html)


def test_create_list_calendar_and_scope(console):
    fair_id = create(console)
    listing = text(get(console, VINH_LONG, "/console/fairs").get_data(as_text=True))
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
    board = text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Bản nháp" in board


def test_edit_matching_publish_phone_answer_withdraw_export_cancel(console):
    fair_id = create(console, name="Hội chợ nông sản Vĩnh Long")
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/edit", form(name="Hội chợ nông sản Vĩnh Long 2027"))
    assert r.status_code == 302
    page = text(get(console, VINH_LONG, f"/console/fairs/{fair_id}/matching?q=buoi nam roi").get_data(as_text=True))
    assert "HTX Số 0" in page and "Hạng sao" in page  # the ranking with its score parts
    assert "Bưởi Năm Roi Mỹ Hòa" in page  # found without diacritics
    why = text(
        get(console, VINH_LONG, f"/console/fairs/{fair_id}/matching?q=Sản phẩm 5&product=pd-5").get_data(as_text=True)
    )
    assert "Không đủ điều kiện" in why and "Sản phẩm chưa được chứng nhận OCOP" in why
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish")
    assert r.status_code == 302
    board = get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in board
    assert "HTX Số" in board and "Đang mời" in text(board)
    issued = re.findall(r'/console/invitations/([^/"]+)">Ghi nhận trả lời', board)
    assert len(issued) == 3
    one = get(console, VINH_LONG, f"/console/invitations/{issued[0]}").get_data(as_text=True)
    assert "Ghi nhận trả lời qua điện thoại" in one and "Rút thư mời" in one and "HTX Số" in one
    assert '<meta http-equiv="refresh"' not in one  # what the officer types is not wiped
    assert get(console, HA_NOI, f"/console/invitations/{issued[0]}").status_code == 404
    r = post(
        console, VINH_LONG, f"/console/invitations/{issued[0]}/phone-answer", {"answer": "accept", "note": "gọi lúc 9h"}
    )
    assert r.status_code == 302
    board = text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Nguyễn Thị Lan ghi nhận" in board and "Gian số 1" in board
    from services.events.models import Outbox
    from shared.web import runtime_of

    with runtime_of(console.application).transaction() as s:
        accepted = [json.loads(m.payload) for m in s.query(Outbox).filter(Outbox.type == "events.invitation.accepted")]
    mine = [e for e in accepted if e["data"]["invitation_id"] == issued[0]]
    assert mine and mine[0]["actor"] == {"id": "off-vl", "name": "Nguyễn Thị Lan", "role": "trade_officer"}
    r = post(console, VINH_LONG, f"/console/invitations/{issued[1]}/withdraw", {"reason": "Trùng lịch"})
    assert r.status_code == 302
    board = text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Trùng lịch" in board
    csv = get(console, VINH_LONG, f"/console/fairs/{fair_id}/participants.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "HTX Số" in csv.get_data(as_text=True)
    assert get(console, HA_NOI, f"/console/fairs/{fair_id}/participants.csv").status_code == 404
    assert post(console, HA_NOI, f"/console/invitations/{issued[2]}/withdraw", {"reason": "x y z"}).status_code == 404
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/cancel", {"reason": "Mưa bão"})
    assert r.status_code == 302
    assert "Đã huỷ" in text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))


def test_a_form_post_without_the_csrf_field_or_from_another_site_is_refused(console):
    fair_id = create(console, name="Hội chợ chống giả mạo biểu mẫu")
    assert post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish", csrf=False).status_code == 403
    cross = post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish", **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert "Bản nháp" in text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))


def test_a_fair_created_in_the_console_belongs_to_its_creators_scope(console):
    from services.events.models import Fair
    from shared.web import runtime_of

    with runtime_of(console.application).transaction() as s:
        owners = {f.name: f.owner_scope for f in s.query(Fair)}
    assert owners["Hội chợ chống giả mạo biểu mẫu"] == "so-cong-thuong-vinh-long"


def test_season_preview_and_apply_then_figures(console):
    first = create(console, name="Phiên chợ OCOP mùa hè")
    second = create(console, name="Tuần hàng OCOP mùa hè", venue="Nhà văn hóa tỉnh")
    theirs = create(console, HA_NOI, name="Hội chợ Hà Nội mùa hè", host_province="Hà Nội")
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
        assert "Đang mời" in text(get(console, VINH_LONG, f"/console/fairs/{fair_id}").get_data(as_text=True))
    assert "Bản nháp" in text(get(console, HA_NOI, f"/console/fairs/{theirs}").get_data(as_text=True))
    year = (date.today() + timedelta(days=60)).year
    figures = get(console, VINH_LONG, f"/console/figures?year={year}").get_data(as_text=True)
    assert "Tỷ lệ lấp đầy gian hàng" in figures and "<svg" in figures
    assert "Phiên chợ OCOP mùa hè" in figures and "Hội chợ Hà Nội mùa hè" not in figures


def test_editing_an_inviting_fair_sends_only_what_changed_and_keeps_rules_the_form_does_not_show(console):
    from services.events.models import Fair
    from shared.web import runtime_of

    fair_id = create(console, name="Hội chợ sửa khi đang mời")
    with runtime_of(console.application).transaction() as s:
        fair = s.get(Fair, fair_id)
        fair.rules = {**fair.rules, "regional_weights": {"host": 9.0, "near": 1.0, "far": 0.0}}
    assert post(console, VINH_LONG, f"/console/fairs/{fair_id}/publish").status_code == 302
    edit = get(console, VINH_LONG, f"/console/fairs/{fair_id}/edit").get_data(as_text=True)
    values = dict(re.findall(r'name="([a-z_.]+)" type="text" value="([^"]*)"', edit))
    assert values["starts_on"] == (date.today() + timedelta(days=60)).strftime("%d/%m/%Y")
    changed = form(name="Hội chợ sửa khi đang mời", capacity="5", budget="60.000.000", starts_on=values["starts_on"])
    changed["ends_on"], changed["invitation_deadline"] = values["ends_on"], values["invitation_deadline"]
    r = post(console, VINH_LONG, f"/console/fairs/{fair_id}/edit", changed)
    assert r.status_code == 302, re.findall(r"class=\"error\"[^>]*>([^<]*)", r.get_data(as_text=True))
    with runtime_of(console.application).transaction() as s:
        fair = s.get(Fair, fair_id)
        assert fair.capacity == 5 and fair.status == "inviting"
        assert fair.rules["regional_weights"] == {"host": 9.0, "near": 1.0, "far": 0.0}
    refused = post(console, VINH_LONG, f"/console/fairs/{fair_id}/edit", {**changed, "rules.min_stars": "4"})
    assert refused.status_code == 422
    assert "Không được sửa khi hội chợ đang mời thư." in text(refused.get_data(as_text=True))
    over = post(console, VINH_LONG, f"/console/fairs/{fair_id}/edit", {**changed, "capacity": "6"})
    assert over.status_code == 422
    html = over.get_data(as_text=True)
    assert re.search(r'id="budget-error">Hỗ trợ 6 gian × 12\.000\.000 đồng = 72\.000\.000 đồng, vượt', html)


def test_the_demo_fairs_belong_to_the_demo_trade_officers_department(tmp_path):
    from embedded import demo
    from embedded.demo_accounts import ACCOUNTS
    from services.events.models import Fair
    from shared.web import runtime_of

    scope = next(a[3] for a in ACCOUNTS if a[2] == "trade_officer")
    with events_app(tmp_path) as app:
        ids = demo.load_events(runtime_of(app))
        with runtime_of(app).transaction() as s:
            assert ids and {s.get(Fair, i).owner_scope for i in ids} == {scope}
