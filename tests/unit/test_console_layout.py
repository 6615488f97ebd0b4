"""The shared console layout (shared/console): escaping, language switch, navigation by role, macros,
filters, headers and the static route, on a bare Flask app given ``shared.console.init``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask, g, render_template_string

from shared import console

PAGE = """{% extends "console/layout.html" %}
{% from "console/forms.html" import field, select, submit %}
{% from "console/tables.html" import paged_table %}
{% from "console/charts.html" import bar_chart %}
{% block content %}<h1>{{ title }}</h1>
<form method="post">{{ csrf_field() }}{{ field("name", "Tên", values, errors, required=True) }}
{{ select("kind", "Loại", [("a", "A"), ("b", "B")], values) }}{{ submit("Lưu") }}</form>
{{ paged_table([("name", "Tên")], rows, page=2, pages=3, link=link) }}
{{ bar_chart(series, title="Biểu đồ") }}
<p id="d">{{ when | date }}</p><p id="t">{{ at | datetime }}</p><p id="m">{{ amount | money }}</p>
{% endblock %}"""

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture()
def app():
    app = Flask("console_test")
    app.config["SECRET_KEY"] = "test"
    console.init(app, "registry")

    @app.get("/console/page")
    def page():
        g.user = {"id": "1", "name": HOSTILE, "email": "a@b.vn", "role": "trade_officer", "scope": "x"}
        g.csrf = 'tok"en'
        return render_template_string(
            PAGE,
            title=HOSTILE,
            values={"name": HOSTILE, "kind": "b"},
            errors={"name": [HOSTILE]},
            rows=[{"name": HOSTILE}],
            link=lambda n: f"/console/page?page={n}",
            series=[(HOSTILE, 3), ("Bến Tre", 12)],
            when=date(2026, 5, 1),
            at=datetime(2026, 4, 30, 18, 30, tzinfo=UTC),
            amount=12_000_000,
        )

    @app.get("/console/anon")
    def anon():
        return render_template_string('{% extends "console/layout.html" %}{% block content %}x{% endblock %}')

    return app


def test_layout_escapes_a_hostile_name_everywhere(app):
    body = app.test_client().get("/console/page").get_data(as_text=True)
    assert "<script>" not in body
    assert body.count("&lt;script&gt;") >= 5  # person, title, field value, error, table cell, chart label
    assert 'name="csrf" value="tok&#34;en"' in body
    assert 'aria-invalid="true" aria-describedby="name-error"' in body and 'id="name-error"' in body
    assert '<option value="b" selected>' in body


def test_vietnamese_by_default_with_the_role_navigation(app):
    resp = app.test_client().get("/console/page")
    body = resp.get_data(as_text=True)
    assert '<html lang="vi">' in body
    assert "OCOP Xúc tiến thương mại" in body
    for label, path in (("Hội chợ", "/events/console/fairs"), ("Kế hoạch mùa", "/events/console/season")):
        assert f'href="{path}">{label}</a>' in body
    assert "Chủ thể &amp; sản phẩm" not in body  # another role's
    assert "Đăng xuất" in body and 'action="/registry/console/sign-out"' in body
    assert "Trang 2 / 3" in body and 'href="/console/page?page=3"' in body


def test_language_switch_by_query_then_cookie(app):
    client = app.test_client()
    resp = client.get("/console/page?lang=en")
    body = resp.get_data(as_text=True)
    assert '<html lang="en">' in body and "Season plan" in body and "Sign out" in body
    assert "ocop_lang=en" in resp.headers["Set-Cookie"]
    again = client.get("/console/page").get_data(as_text=True)  # the cookie remembers
    assert '<html lang="en">' in again
    back = client.get("/console/page?lang=vi").get_data(as_text=True)
    assert '<html lang="vi">' in back and "Kế hoạch mùa" in back
    assert '<html lang="vi">' in client.get("/console/page?lang=xx&x=1").get_data(as_text=True)


def test_filters_show_vietnam_dates_and_dong(app):
    body = app.test_client().get("/console/page").get_data(as_text=True)
    assert '<p id="d">01/05/2026</p>' in body
    assert '<p id="t">01/05/2026 01:30</p>' in body  # 18:30 UTC is 01:30 next day in Vietnam
    assert '<p id="m">12.000.000 ₫</p>' in body
    assert console.format_money(-1500.4) == "-1.500 ₫" and console.format_money(None) == ""


def test_page_headers_and_no_inline_script(app):
    resp = app.test_client().get("/console/anon")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp and "script-src" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    body = resp.get_data(as_text=True)
    assert "<script" not in body and "style=" not in body and "<style" not in body
    assert "Đăng xuất" not in body  # nobody signed in: no navigation, no sign-out


def test_static_stylesheet_is_served(app):
    with app.test_client().get("/console/static/console.css") as resp:
        assert resp.status_code == 200 and resp.mimetype == "text/css"
        css = resp.get_data(as_text=True)
    assert "@import" not in css and "url(http" not in css
    assert app.test_client().get("/console/static/../__init__.py").status_code == 404


def test_every_shared_string_is_translated():
    from babel.messages.pofile import read_po

    with (console.HERE / "translations/vi/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert not missing
    labels = {label for items in console.navigation.NAV.values() for label, _ in items}
    assert labels <= {m.id for m in catalog}
