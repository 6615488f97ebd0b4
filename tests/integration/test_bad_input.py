"""Bad input on every write endpoint, through the real HTTP APIs, in both modes.

Malformed JSON is a 400, wrong types, unknown and missing fields are a 422 naming each field,
broken domain rules are a 4xx naming the field at fault, and never a 500. After every refused
request the service's tables (rows and outbox) are exactly as they were: nothing half-written.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from support import wait_for

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+)")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
JSON = {"Content-Type": "application/json"}
# Isolation: the suite shares one platform, and a fair invites every matching certified product.
# Producers here live in provinces no other fair admits (test_flow's admit Vĩnh Long), and a test
# that publishes admits only its own province; by default a fair admits a province nobody is in.
NOBODY = "Lai Châu"

# What a request may write, per service. Notifications' outbox also gets delivery events from its
# sender loop at any moment, so only the rows a request writes are counted there.
COUNTS = {
    "registry": {t: f"SELECT count(*) FROM {t}" for t in ("producers", "products", "certifications", "outbox")},
    "events": {t: f"SELECT count(*) FROM {t}" for t in ("fairs", "invitations", "outbox")},
    "notifications": {
        "answers": "SELECT count(*) FROM answers",
        "outbox": "SELECT count(*) FROM outbox WHERE type = 'notifications.invitation.answered'",
    },
}


# ---- helpers (as in test_flow) ---------------------------------------------------------------
def producer_body(**over) -> dict:
    code = f"T-{uuid.uuid4().hex[:8]}"
    return {
        "code": code,
        "name": "Hợp tác xã Kẹo dừa Thanh Long",
        "kind": "cooperative",
        "province": "Hà Giang",
        "email": f"{code.lower()}@example.vn",
        "consent": {"email": True, "sms": False},
        **over,
    }


def register_producer(api, **over) -> dict:
    r = api.call("POST", "registry", "/producers", "registry_officer", json=producer_body(**over))
    assert r.status_code == 201, r.text
    return r.json()


def register_product(api, producer_id: str) -> dict:
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={"producer_id": producer_id, "name": "Kẹo dừa sầu riêng", "group": 1},
    )
    assert r.status_code == 201, r.text
    return r.json()


def cert_body(product_id: str, **over) -> dict:
    return {
        "product_id": product_id,
        "score": 78,
        "issued_by": "UBND tỉnh Bến Tre",
        "decision_number": "1358/QĐ-UBND",
        "decision_date": "2025-07-20",
        **over,
    }


def register_certified(api, **over):
    producer = register_producer(api, **over)
    product = register_product(api, producer["id"])
    r = api.call("POST", "registry", "/certifications", "registry_officer", json=cert_body(product["id"]))
    assert r.status_code == 201, r.text
    return producer, product, r.json()


def in_read_model(api, product_id):
    return wait_for(
        lambda: (r := api.call("GET", "events", f"/catalogue/{product_id}", "trade_officer")).ok and r.json(),
        message="read model row",
    )


def fair_body(**over) -> dict:
    starts = datetime.now(UTC).date() + timedelta(days=60)
    body = {
        "name": f"Hội chợ OCOP Cần Thơ {uuid.uuid4().hex[:4]}",
        "organiser": "Sở Công Thương Cần Thơ",
        "host_province": "Cần Thơ",
        "region": "mekong_delta",
        "venue": "Công viên sông Hậu",
        "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=4)).isoformat(),
        "capacity": 50,
        "invitation_deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "subsidy_per_booth": 8000000,
        "rules": {"min_stars": 4, "provinces": [NOBODY]},
    }
    return {**body, **over}


def create_fair(api, **over) -> dict:
    r = api.call("POST", "events", "/fairs", "trade_officer", json=fair_body(**over))
    assert r.status_code == 201, r.text
    return r.json()


def publish(api, fair_id: str):
    r = api.call("POST", "events", f"/fairs/{fair_id}/publish", "trade_officer")
    assert r.status_code == 200, r.text
    return r.json()


def invitation_of(api, fair_id: str, producer_id: str) -> dict:
    invitations = api.call("GET", "events", f"/fairs/{fair_id}/invitations", "trade_officer").json()
    return next(i for i in invitations if i["producer_id"] == producer_id)


def mails_to(platform, address):
    return [m for m in platform.mailbox.list(1000) if address in m[2]]


def link_for(platform, address) -> str:
    [(mail_id, *_)] = wait_for(lambda: mails_to(platform, address), message="invitation email")
    return LINK.search(platform.mailbox.get(mail_id).get_body(preferencelist=("plain",)).get_content()).group(1)


def rows(platform, service: str) -> dict[str, int]:
    with platform.runtimes[service].session_factory() as s:
        return {name: s.execute(text(sql)).scalar_one() for name, sql in COUNTS[service].items()}


@contextmanager
def unchanged(platform, *services):
    """Nothing written: each service's rows and outbox rows are the same after the block."""
    before = {s: rows(platform, s) for s in services}
    yield
    assert {s: rows(platform, s) for s in services} == before


def refused(r, status: int, *fields: str, location: str = "json") -> dict:
    """The one error body: JSON {code, status, message[, errors]}, naming each field (dotted for nested)."""
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    body = r.json()
    assert body["code"] == status and isinstance(body["status"], str) and body["status"], body
    assert isinstance(body["message"], str) and body["message"], body
    for name in fields:
        node = body["errors"][location]
        for part in name.split("."):
            assert part in node, f"{name} not named in {body['errors']}"
            node = node[part]
    return body


def vn_today() -> date:
    return datetime.now(VN).date()


# ---- a scene every test can use --------------------------------------------------------------
@pytest.fixture(scope="module")
def scene(platform):
    """A certified product whose producer holds an issued invitation; a draft fair; a bare product."""
    api = platform.api
    producer, product, cert = register_certified(api, province="Bạc Liêu")
    in_read_model(api, product["id"])
    fair = create_fair(api, rules={"min_stars": 4, "provinces": ["Cà Mau"]})
    publish(api, fair["id"])
    invitation = invitation_of(api, fair["id"], producer["id"])
    assert invitation["status"] == "issued"
    bare = register_product(api, producer["id"])
    return {
        "producer": producer,
        "product": product,
        "cert": cert,
        "fair": fair,
        "invitation": invitation,
        "draft": create_fair(api),
        "bare": bare,
        "email": producer["email"],
    }


def write_endpoints(scene) -> dict:
    """name -> (service, path, role, subject, a valid body)"""
    pid = scene["producer"]["id"]
    return {
        "producers": ("registry", "/producers", "registry_officer", None, producer_body()),
        "products": (
            "registry",
            "/products",
            "registry_officer",
            None,
            {"producer_id": pid, "name": "Bánh tráng", "group": 1},
        ),
        "certifications": ("registry", "/certifications", "registry_officer", None, cert_body(scene["bare"]["id"])),
        "fairs": ("events", "/fairs", "trade_officer", None, fair_body()),
        "publish": ("events", f"/fairs/{scene['draft']['id']}/publish", "trade_officer", None, None),
        "answer": ("events", f"/invitations/{scene['invitation']['id']}/answer", "producer", pid, {"answer": "accept"}),
    }


ENDPOINTS = ["producers", "products", "certifications", "fairs", "publish", "answer"]
BODY_ENDPOINTS = [e for e in ENDPOINTS if e != "publish"]


def post(api, scene, name, **kw):
    service, path, role, sub, _ = write_endpoints(scene)[name]
    return api.call("POST", service, path, role, sub=sub, **kw)


def assert_scene_intact(api, scene):
    """The draft fair is still a draft and the invitation still waits for its answer."""
    fair = api.call("GET", "events", f"/fairs/{scene['draft']['id']}", "trade_officer").json()
    assert (fair["status"], fair["version"]) == ("draft", scene["draft"]["version"])
    inv = api.call("GET", "events", f"/invitations/{scene['invitation']['id']}", "trade_officer").json()
    assert (inv["status"], inv["booth"], inv["note"]) == ("issued", None, None)


# ---- malformed JSON --------------------------------------------------------------------------
MALFORMED = [
    '{"name": ',
    "{'code': 'T-1'}",
    "not json at all",
    '{"a": 1}{"b": 2}',
    '{"a": 1,}',
    b"\xff\xfe{\x00",
    '{"answer": "accept"',
]


@pytest.mark.parametrize("name", ENDPOINTS)
def test_malformed_json_is_a_400_with_a_json_body(platform, api, scene, name):
    service = write_endpoints(scene)[name][0]
    with unchanged(platform, service):
        for body in MALFORMED:
            r = post(api, scene, name, data=body, headers=dict(JSON))
            assert "JSON" in refused(r, 400)["message"]
    assert_scene_intact(api, scene)


# ---- wrong types, unknown fields, missing fields ---------------------------------------------
WRONG_TYPES = {
    "producers": (
        {
            "code": 123,
            "name": ["HTX"],
            "kind": "cooperative",
            "province": {"name": "Bến Tre"},
            "email": 5,
            "preferred_language": 1,
            "consent": {"email": "maybe"},
        },
        ["code", "name", "province", "email", "preferred_language", "consent.email"],
    ),
    "products": (
        {"producer_id": 1, "name": 2, "group": "1", "potential_five_star": "perhaps", "description": []},
        ["producer_id", "name", "group", "potential_five_star", "description"],
    ),
    "certifications": (
        {
            "product_id": [],
            "score": "78",
            "issued_by": 1,
            "decision_number": 2,
            "decision_date": "20/07/2025",
            "stars": 4.5,
            "score_parts": [30, 20, 28],
            "kind": 1,
        },
        ["product_id", "score", "issued_by", "decision_number", "decision_date", "stars", "score_parts", "kind"],
    ),
    "fairs": (
        {
            "name": 1,
            "organiser": 2,
            "host_province": 3,
            "region": "moon",
            "venue": None,
            "starts_on": "tomorrow",
            "ends_on": 20260101,
            "capacity": "10",
            "invitation_deadline": "2026-01-01T00:00:00",
            "subsidy_per_booth": 1.5,
            "rules": {"min_stars": "4", "groups": "1", "regions": [1]},
        },
        [
            "name",
            "organiser",
            "host_province",
            "region",
            "venue",
            "starts_on",
            "ends_on",
            "capacity",
            "invitation_deadline",
            "subsidy_per_booth",
            "rules.min_stars",
            "rules.groups",
            "rules.regions",
        ],
    ),
    "answer": ({"answer": True, "note": 5}, ["answer", "note"]),
}


@pytest.mark.parametrize("name", BODY_ENDPOINTS)
def test_wrong_types_are_a_422_naming_each_field(platform, api, scene, name):
    body, fields = WRONG_TYPES[name]
    with unchanged(platform, write_endpoints(scene)[name][0]):
        refused(post(api, scene, name, json=body), 422, *fields)
    assert_scene_intact(api, scene)


NESTED_UNKNOWN = {
    "producers": ("consent", {"email": True, "fax": True}),
    "fairs": ("rules", {"colour": "red"}),
    "certifications": ("score_parts", {"a": 30, "b": 20, "c": 28, "d": 0}),
}


@pytest.mark.parametrize("name", BODY_ENDPOINTS)
def test_unknown_fields_are_a_422_naming_each_field(platform, api, scene, name):
    valid = write_endpoints(scene)[name][4]
    with unchanged(platform, write_endpoints(scene)[name][0]):
        body = refused(post(api, scene, name, json={**valid, "colour": "red", "Name": "x"}), 422, "colour", "Name")
        assert body["errors"]["json"]["colour"] == ["Unknown field."]
        if name in NESTED_UNKNOWN:
            key, nested = NESTED_UNKNOWN[name]
            unknown = next(k for k in nested if k not in ("email", "a", "b", "c"))
            refused(post(api, scene, name, json={**valid, key: nested}), 422, f"{key}.{unknown}")
    assert_scene_intact(api, scene)


REQUIRED = {
    "producers": ["code", "name", "kind", "province"],
    "products": ["producer_id", "name", "group"],
    "certifications": ["product_id", "score", "issued_by", "decision_number", "decision_date"],
    "fairs": [
        "name",
        "organiser",
        "host_province",
        "region",
        "venue",
        "starts_on",
        "ends_on",
        "capacity",
        "invitation_deadline",
    ],
    "answer": ["answer"],
}


@pytest.mark.parametrize("name", BODY_ENDPOINTS)
def test_missing_required_fields_are_a_422_naming_each_field(platform, api, scene, name):
    valid = write_endpoints(scene)[name][4]
    with unchanged(platform, write_endpoints(scene)[name][0]):
        body = refused(post(api, scene, name, json={}), 422, *REQUIRED[name])
        assert set(body["errors"]["json"]) == set(REQUIRED[name])
        for field in REQUIRED[name]:  # each one alone, too
            refused(post(api, scene, name, json={k: v for k, v in valid.items() if k != field}), 422, field)
        # a body that is no JSON object at all, or none
        for other in ("[]", f"[{json.dumps(valid)}]", '"text"', "42", "null", ""):
            r = post(api, scene, name, data=other, headers=dict(JSON))
            assert r.status_code == 422 and r.json()["code"] == 422, (other, r.text)
        r = post(api, scene, name)
        assert r.status_code == 422 and r.json()["code"] == 422, r.text
    assert_scene_intact(api, scene)


# ---- registry's rules ------------------------------------------------------------------------
def test_unknown_province_names_province(platform, api):
    with unchanged(platform, "registry"):
        body = refused(
            api.call("POST", "registry", "/producers", "registry_officer", json=producer_body(province="Atlantis")),
            422,
            "province",
        )
        assert "Atlantis" in body["errors"]["json"]["province"][0]


def test_old_province_names_resolve_with_or_without_diacritics(api):
    for entered in ("ben tre", "Tỉnh Bến Tre", "tinh ben tre"):
        p = register_producer(api, province=entered)
        assert (p["province"], p["province_entered"], p["region"]) == ("Vĩnh Long", "Bến Tre", "mekong_delta")


def test_duplicate_producer_code_is_a_409_naming_code(platform, api):
    first = register_producer(api)
    with unchanged(platform, "registry"):
        for code in (first["code"], first["code"].lower(), f" {first['code']} "):
            body = refused(
                api.call("POST", "registry", "/producers", "registry_officer", json=producer_body(code=code)),
                409,
                "code",
            )
            assert first["code"] in body["message"]


def test_the_same_code_posted_at_once_is_one_201_and_409s_never_a_500(platform, api):
    body = producer_body()
    results = []

    def post_one():
        results.append(api.call("POST", "registry", "/producers", "registry_officer", json=body).status_code)

    threads = [threading.Thread(target=post_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 7, results
    with platform.runtimes["registry"].session_factory() as s:
        assert (
            s.execute(text("SELECT count(*) FROM producers WHERE code = :c"), {"c": body["code"].upper()}).scalar_one()
            == 1
        )


def test_product_of_an_unknown_producer_is_a_404(platform, api):
    with unchanged(platform, "registry"):
        refused(
            api.call(
                "POST",
                "registry",
                "/products",
                "registry_officer",
                json={"producer_id": str(uuid.uuid4()), "name": "Bánh pía", "group": 1},
            ),
            404,
            "producer_id",
        )


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"score": 101}, "score"),
        ({"score": -1}, "score"),
        ({"score": 40}, "score"),  # 2★: not certified OCOP
        ({"score": 29, "stars": 1}, "score"),
        ({"score": 78, "stars": 5}, "stars"),  # 78 is 4★
        ({"score": 90, "stars": 4, "level": "national"}, "stars"),
        ({"score": 92, "stars": 5}, "stars"),  # a province's 92 is 4★ (proposed for national evaluation)
        ({"score": 80, "level": "national"}, "score"),  # the national level certifies 5★ only
        ({"level": "commune"}, "level"),  # the commune pre-checks, it does not certify
        ({"stars": 6}, "stars"),
        ({"criteria_version": "999/QĐ-TTg"}, "criteria_version"),
        ({"kind": "renewal"}, "kind"),
        ({"score_parts": {"a": 30, "b": 20, "c": 20}}, "score_parts"),  # 70, not 78
        ({"score_parts": {"a": 41, "b": 20, "c": 17}}, "score_parts.a"),
        ({"decision_date": "2025-02-30"}, "decision_date"),
    ],
)
def test_certification_rules(platform, api, scene, over, field):
    with unchanged(platform, "registry"):
        refused(
            api.call(
                "POST", "registry", "/certifications", "registry_officer", json=cert_body(scene["bare"]["id"], **over)
            ),
            422,
            field,
        )


def test_decision_date_in_the_future_is_refused_and_today_in_vietnam_is_not(platform, api):
    product = register_product(api, register_producer(api)["id"])
    with unchanged(platform, "registry"):
        for ahead in (2, 400):
            day = (vn_today() + timedelta(days=ahead)).isoformat()
            refused(
                api.call(
                    "POST",
                    "registry",
                    "/certifications",
                    "registry_officer",
                    json=cert_body(product["id"], decision_date=day),
                ),
                422,
                "decision_date",
            )
    # a decision signed today in Vietnam is accepted, whatever the server's clock zone says
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json=cert_body(product["id"], decision_date=vn_today().isoformat()),
    )
    assert r.status_code == 201, r.text


def test_certification_of_an_unknown_product_is_a_404(platform, api):
    with unchanged(platform, "registry"):
        refused(
            api.call("POST", "registry", "/certifications", "registry_officer", json=cert_body(str(uuid.uuid4()))),
            404,
            "product_id",
        )


def test_second_current_certification_is_a_409(platform, api, scene):
    with unchanged(platform, "registry"):
        refused(
            api.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json=cert_body(scene["product"]["id"], score=92),
            ),
            409,
            "product_id",
        )


def current_certifications(platform, product_id: str) -> list:
    with platform.runtimes["registry"].session_factory() as s:
        return s.execute(
            text("SELECT id, stars FROM certifications WHERE product_id = :p AND status = 'current'"), {"p": product_id}
        ).all()


def test_recertification_and_upgrade_replace_the_current_certification(platform, api):
    product = register_product(api, register_producer(api)["id"])
    first = api.call("POST", "registry", "/certifications", "registry_officer", json=cert_body(product["id"])).json()
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json=cert_body(product["id"], kind="upgrade", score=91, decision_date="2025-09-01", level="national"),
    )
    assert r.status_code == 201, r.text
    assert current_certifications(platform, product["id"]) == [(r.json()["id"], 5)]
    assert (
        api.call("GET", "registry", f"/certifications/{first['id']}", "registry_officer").json()["status"]
        == "superseded"
    )
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json=cert_body(product["id"], kind="recertification", score=85, decision_date="2025-10-01"),
    )
    assert r.status_code == 201, r.text
    assert current_certifications(platform, product["id"]) == [(r.json()["id"], 4)]


def test_an_upgrade_must_raise_the_stars(platform, api):
    product = register_product(api, register_producer(api)["id"])
    assert (
        api.call("POST", "registry", "/certifications", "registry_officer", json=cert_body(product["id"])).status_code
        == 201
    )
    with unchanged(platform, "registry"):
        refused(
            api.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json=cert_body(product["id"], kind="upgrade", score=75),
            ),
            422,
            "score",
        )
    assert len(current_certifications(platform, product["id"])) == 1


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"name": "HTX Kẹo dừa\u0000"}, "name"),  # PostgreSQL text cannot hold NUL
        ({"email": "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".vn"}, "email"),  # valid-looking, over 254
        ({"code": "ß" * 40}, "code"),  # 80 characters once upper-cased
        ({"phone": "0912 345 678\n"}, "phone"),
    ],
)
def test_odd_producer_input_is_a_422_not_a_500(platform, api, over, field):
    with unchanged(platform, "registry"):
        refused(api.call("POST", "registry", "/producers", "registry_officer", json=producer_body(**over)), 422, field)


def test_long_names_in_any_script_are_stored(api):
    """300 Hangul syllables: the folded search key must fit its column too."""
    p = register_producer(api, name="한" * 300)
    product = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={"producer_id": p["id"], "name": "가" * 300, "group": 1},
    )
    assert product.status_code == 201, product.text


# ---- events' rules ---------------------------------------------------------------------------
def test_fair_with_reversed_dates_names_ends_on(platform, api):
    start = date.today() + timedelta(days=60)
    with unchanged(platform, "events"):
        refused(
            api.call(
                "POST",
                "events",
                "/fairs",
                "trade_officer",
                json=fair_body(starts_on=start.isoformat(), ends_on=(start - timedelta(days=1)).isoformat()),
            ),
            422,
            "ends_on",
        )


def test_invitation_deadline_after_the_start_names_the_deadline(platform, api):
    start = date.today() + timedelta(days=60)
    with unchanged(platform, "events"):
        refused(
            api.call(
                "POST",
                "events",
                "/fairs",
                "trade_officer",
                json=fair_body(
                    starts_on=start.isoformat(),
                    ends_on=(start + timedelta(days=3)).isoformat(),
                    invitation_deadline=f"{(start + timedelta(days=1)).isoformat()}T09:00:00+07:00",
                ),
            ),
            422,
            "invitation_deadline",
        )


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"subsidy_per_booth": 3_000_000_000}, "subsidy_per_booth"),  # beyond what the column holds
        ({"subsidy_per_booth": -1}, "subsidy_per_booth"),
        ({"rules": {"min_stars": 6}}, "rules.min_stars"),
        ({"rules": {"max_products_per_producer": 0}}, "rules.max_products_per_producer"),
        ({"kind": "bazaar"}, "kind"),
        ({"name": "Hội chợ\u0000"}, "name"),
        ({"rules": {"provinces": ["Cà Mau\u0000"]}}, "rules.provinces"),
        (
            {"starts_on": "9999-12-31", "ends_on": "9999-12-31", "invitation_deadline": "9999-12-31T23:00:00-05:00"},
            "invitation_deadline",
        ),
    ],
)
def test_fair_values_out_of_range(platform, api, over, field):
    with unchanged(platform, "events"):
        refused(api.call("POST", "events", "/fairs", "trade_officer", json=fair_body(**over)), 422, field)


def test_deadline_keeps_its_instant_whatever_the_offset(api):
    """23:00 in Hà Nội is 16:00 UTC; the fair must say so in both modes (SQLite keeps no offset)."""
    starts = date.today() + timedelta(days=60)
    entered = datetime.combine(starts - timedelta(days=10), datetime.min.time()).replace(hour=23, tzinfo=VN)
    fair = create_fair(
        api,
        starts_on=starts.isoformat(),
        ends_on=(starts + timedelta(days=2)).isoformat(),
        invitation_deadline=entered.isoformat(),
    )
    for body in (fair, api.call("GET", "events", f"/fairs/{fair['id']}", "trade_officer").json()):
        stored = datetime.fromisoformat(body["invitation_deadline"])
        assert stored.tzinfo is not None and stored == entered, body["invitation_deadline"]


def test_publishing_twice_is_a_422_naming_status(platform, api, scene):
    fair = create_fair(api)
    published = publish(api, fair["id"])
    assert published["status"] == "inviting"
    with unchanged(platform, "events"):
        body = refused(api.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer"), 422, "status")
        assert "cannot go from inviting to published" in body["errors"]["json"]["status"][0]
    again = api.call("GET", "events", f"/fairs/{fair['id']}", "trade_officer").json()
    assert (again["status"], again["version"]) == ("inviting", published["version"])


def test_unknown_fair_or_invitation_is_a_404(platform, api, scene):
    missing = str(uuid.uuid4())
    with unchanged(platform, "events"):
        refused(api.call("POST", "events", f"/fairs/{missing}/publish", "trade_officer"), 404)
        refused(api.call("GET", "events", f"/fairs/{missing}", "trade_officer"), 404)
        refused(api.call("GET", "events", f"/fairs/{missing}/invitations", "trade_officer"), 404)
        refused(api.call("GET", "events", f"/fairs/{missing}/preview", "trade_officer"), 404)
        refused(
            api.call(
                "POST",
                "events",
                f"/invitations/{missing}/answer",
                "producer",
                sub=scene["producer"]["id"],
                json={"answer": "accept"},
            ),
            404,
        )
        refused(api.call("GET", "events", f"/invitations/{missing}", "trade_officer"), 404)


def test_answering_twice_is_a_409(platform, api):
    producer, product, _ = register_certified(api, province="Sóc Trăng")
    in_read_model(api, product["id"])
    fair = create_fair(api, rules={"min_stars": 4, "provinces": ["Cần Thơ"]})
    publish(api, fair["id"])
    inv = invitation_of(api, fair["id"], producer["id"])
    path = f"/invitations/{inv['id']}/answer"
    r = api.call("POST", "events", path, "producer", sub=producer["id"], json={"answer": "decline", "note": "Bận"})
    assert r.status_code == 200 and r.json()["status"] == "declined", r.text
    with unchanged(platform, "events"):
        for answer in ("accept", "decline"):
            refused(api.call("POST", "events", path, "producer", sub=producer["id"], json={"answer": answer}), 409)
    final = api.call("GET", "events", f"/invitations/{inv['id']}", "trade_officer").json()
    assert (final["status"], final["note"], final["booth"]) == ("declined", "Bận", None)


def test_answering_after_the_deadline_is_refused(platform, api):
    producer, product, _ = register_certified(api, province="Kiên Giang")
    in_read_model(api, product["id"])
    deadline = datetime.now(UTC) + timedelta(seconds=3)
    fair = create_fair(api, invitation_deadline=deadline.isoformat(), rules={"provinces": ["An Giang"]})
    publish(api, fair["id"])
    inv = invitation_of(api, fair["id"], producer["id"])
    assert inv["status"] == "issued"
    link = link_for(platform, producer["email"])
    wait_for(lambda: datetime.now(UTC) > deadline + timedelta(milliseconds=100), message="the deadline to pass")
    with unchanged(platform, "events", "notifications"):
        body = refused(
            api.call(
                "POST",
                "events",
                f"/invitations/{inv['id']}/answer",
                "producer",
                sub=producer["id"],
                json={"answer": "accept"},
            ),
            422,
        )
        assert "deadline" in body["message"]
        page = api.http.post(link, data={"answer": "accept"}, timeout=10)
        assert page.status_code == 410 and "hết hạn" in page.text
    after = api.call("GET", "events", f"/invitations/{inv['id']}", "trade_officer").json()
    assert (after["status"], after["booth"], after["answered_at"]) == ("issued", None, None)


# ---- the answer page's form (notifications) ----------------------------------------------------
def test_answer_form_refuses_bad_answers_and_a_second_answer(platform, api, scene):
    link = link_for(platform, scene["email"])
    with unchanged(platform, "notifications"):
        for form in (
            {},
            {"answer": "maybe"},
            {"answer": ""},
            {"note": "x" * 1001, "answer": "accept"},
            {"note": "Hết hàng\u0000", "answer": "decline"},
        ):
            r = api.http.post(link, data=form, timeout=10)
            assert r.status_code == 422 and r.headers["Content-Type"].startswith("text/html"), r.text
            assert ("note" if "note" in form else "answer") in r.text
        r = api.http.post(link, data="{not json", headers=dict(JSON), timeout=10)
        refused(r, 400)
        tampered = link[:-4] + ("aaaa" if not link.endswith("aaaa") else "bbbb")
        assert api.http.post(tampered, data={"answer": "accept"}, timeout=10).status_code == 403
    assert_scene_intact(api, scene)

    before = rows(platform, "notifications")
    r = api.http.post(link, data={"answer": "decline", "note": "Hết hàng mùa này"}, timeout=10)
    assert r.status_code == 200, r.text
    assert rows(platform, "notifications") == {k: v + 1 for k, v in before.items()}
    with unchanged(platform, "notifications"):
        again = api.http.post(link, data={"answer": "accept"}, timeout=10)
        assert again.status_code == 409 and "đã được trả lời" in again.text
    wait_for(
        lambda: api.call("GET", "events", f"/invitations/{scene['invitation']['id']}", "trade_officer").json()["status"]
        == "declined",
        message="the decline reaches the events service",
    )


# ---- one error body for every error ----------------------------------------------------------
@pytest.mark.parametrize("service", ["registry", "events", "notifications"])
def test_unknown_paths_and_methods_use_the_one_error_body(api, service):
    body = refused(api.call("GET", service, "/no/such/path"), 404)
    assert set(body) == {"code", "status", "message"} and body["status"] == "Not Found"
    refused(api.call("POST", service, "/nowhere", json={}), 404)
    r = api.call("DELETE", service, "/livez")
    body = refused(r, 405)
    assert set(body) == {"code", "status", "message"} and body["status"] == "Method Not Allowed"
    assert "GET" in r.headers["Allow"]


def test_wrong_methods_on_api_resources(api):
    for service, path in (
        ("registry", "/producers"),
        ("registry", "/certifications"),
        ("events", "/fairs/x/publish"),
        ("events", "/invitations/x/answer"),
    ):
        r = api.call("PUT", service, path, "admin", json={})
        refused(r, 405)
        assert "POST" in r.headers["Allow"]


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("registry", "/producers/{}"),
        ("registry", "/products/{}"),
        ("registry", "/certifications/{}"),
        ("events", "/fairs/{}"),
        ("events", "/invitations/{}"),
        ("events", "/catalogue/{}"),
    ],
)
def test_odd_ids_in_paths_are_a_404(api, service, path):
    for odd in ("%00", "x%00y", "%C3%28", "a" * 2000):
        refused(api.call("GET", service, path.format(odd), "admin"), 404)


def test_auth_errors_use_the_one_error_body(api):
    refused(api.call("POST", "registry", "/producers", None, json={}), 401)
    refused(api.call("POST", "registry", "/producers", "trade_officer", json={}), 403)
    refused(api.call("POST", "events", "/fairs", None, json={}, headers={"Authorization": "Bearer forged"}), 401)


# ---- a producer sees its own records only ----------------------------------------------------
def test_a_producer_reads_its_own_records_and_no_one_elses(api, scene):
    me, mine = scene["producer"], scene["product"]
    other = register_producer(api)
    other_product = register_product(api, other["id"])
    r = api.call("GET", "registry", f"/producers/{me['id']}", "producer", sub=me["id"])
    assert r.status_code == 200 and r.json()["code"] == me["code"]
    assert api.call("GET", "registry", f"/products/{mine['id']}", "producer", sub=me["id"]).status_code == 200
    assert (
        api.call("GET", "registry", f"/certifications/{scene['cert']['id']}", "producer", sub=me["id"]).status_code
        == 200
    )
    assert (
        api.call("GET", "events", f"/invitations/{scene['invitation']['id']}", "producer", sub=me["id"]).status_code
        == 200
    )
    refused(api.call("GET", "registry", f"/producers/{other['id']}", "producer", sub=me["id"]), 403)
    refused(api.call("GET", "registry", f"/products/{other_product['id']}", "producer", sub=me["id"]), 403)
    refused(api.call("GET", "registry", f"/producers/{me['id']}", "producer", sub=other["id"]), 403)
    refused(api.call("GET", "events", f"/invitations/{scene['invitation']['id']}", "producer", sub=other["id"]), 403)
    refused(api.call("POST", "registry", "/producers", "producer", sub=me["id"], json=producer_body()), 403)
