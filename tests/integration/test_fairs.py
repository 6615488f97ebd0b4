"""Fairs through the events API, in both modes: every field, old province names, edits while
draft/published/inviting, the lifecycle and its events, and bad input refused naming the field
with nothing written."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from events_support import (
    answer,
    by_producer,
    create_fair,
    events_of,
    fair_body,
    get_fair,
    invitations,
    move_fair,
    outbox_count,
    publish,
    register,
)
from sqlalchemy import func, select


def rows(platform) -> tuple[int, int, int]:
    from services.events.models import Fair, Invitation, Outbox

    with platform.runtimes["events"].session_factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Fair, Invitation, Outbox))


@contextmanager
def nothing_written(platform):
    before = rows(platform)
    yield
    assert rows(platform) == before


def refused(r, status: int, field: str) -> dict:
    """The one error body, naming ``field`` (dotted for nested rules)."""
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    body = r.json()
    node = body["errors"]["json"]
    for part in field.split("."):
        assert part in node, f"{field} not named in {body['errors']}"
        node = node[part]
    return body


# ---- creating ----------------------------------------------------------------------------------
def test_a_fair_with_every_field_round_trips_with_old_province_names(api):
    body = fair_body(
        "Quảng Ninh",
        capacity=220,
        kind="exhibition",
        host_province="Tỉnh Bến Tre",
        budget=220 * 8_000_000,
        response_days=10,
        organiser="Ủy ban nhân dân tỉnh Vĩnh Long",
        organiser_kind="peoples_committee",
        region="mekong_delta",
        venue="Quảng trường Đồng Khởi",
        rules={
            "min_stars": 4,
            "admit_uncertified": True,
            "groups": [1, 2, 3],
            "subgroups": ["1.3"],
            "regions": ["red_river_delta"],
            "provinces": ["tra vinh", "Hậu Giang"],
            "producer_kinds": ["cooperative", "enterprise"],
            "max_products_per_producer": 2,
            "max_booths_per_producer": 2,
            "group_quotas": {"1": 0.6, "3": 0.1},
            "regional_weights": {"far": 8},
            "overbooking_percent": 10,
            "waitlist_size": 50,
            "top_up": False,
        },
    )
    r = api.call("POST", "events", "/fairs", "trade_officer", json=body)
    assert r.status_code == 201, r.text
    fair = r.json()
    assert (fair["host_province"], fair["host_province_entered"], fair["region"]) == (
        "Vĩnh Long",
        "Bến Tre",
        "mekong_delta",
    )
    assert (fair["kind"], fair["organiser"], fair["organiser_kind"]) == (
        "exhibition",
        "Ủy ban nhân dân tỉnh Vĩnh Long",
        "peoples_committee",
    )
    assert (fair["budget"], fair["response_days"], fair["status"], fair["version"]) == (1_760_000_000, 10, "draft", 1)
    rules = fair["rules"]
    assert rules["provinces"] == ["Vĩnh Long", "Cần Thơ"]  # stored as the current provinces
    assert rules["regional_weights"] == {"host": 6.0, "near": 3.0, "far": 8.0}
    assert (rules["subgroups"], rules["group_quotas"], rules["top_up"]) == (["1.3"], {"1": 0.6, "3": 0.1}, False)
    again = get_fair(api, fair["id"])
    assert {k: again[k] for k in fair if k != "clashes"} == {k: fair[k] for k in fair if k != "clashes"}


def test_defaults_fill_the_rules_a_fair_leaves_out(api):
    fair = create_fair(api, "Quảng Ninh", rules={})
    assert fair["rules"]["min_stars"] == 3 and fair["rules"]["max_booths_per_producer"] == 1
    assert fair["rules"]["valid_through_end"] is True and fair["rules"]["top_up"] is True
    assert (fair["kind"], fair["response_days"], fair["budget"]) == ("trade_fair", 14, None)


def test_a_showcase_point_runs_for_a_year_a_trade_fair_does_not(platform, api):
    year = fair_body("Quảng Ninh", days=365, kind="showcase_point", name="Điểm bán OCOP Sân bay Vân Đồn")
    r = api.call("POST", "events", "/fairs", "trade_officer", json=year)
    assert r.status_code == 201 and r.json()["kind"] == "showcase_point", r.text
    with nothing_written(platform):
        body = refused(
            api.call("POST", "events", "/fairs", "trade_officer", json={**year, "kind": "trade_fair"}), 422, "ends_on"
        )
    assert "showcase_point" in body["errors"]["json"]["ends_on"][0]


def test_a_venue_shared_on_overlapping_dates_is_reported_not_refused(api):
    first = create_fair(api, "Quảng Ninh", venue="Cung Quy hoạch, Hội chợ và Triển lãm Quảng Ninh")
    second = create_fair(api, "Quảng Ninh", venue="cung quy hoach, hoi cho va trien lam quang ninh")
    assert [c["fair_id"] for c in second["clashes"]] == [first["id"]]
    later = create_fair(api, "Quảng Ninh", venue=first["venue"], starts_in=90)
    assert later["clashes"] == []


def _past(hours: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


BAD = [
    ({"ends_on": (date.today() + timedelta(days=59)).isoformat()}, "ends_on"),  # before starts_on
    ({"invitation_deadline": (datetime.now(UTC) + timedelta(days=62)).isoformat()}, "invitation_deadline"),
    ({"invitation_deadline": _past()}, "invitation_deadline"),
    ({"host_province": "Atlantis"}, "host_province"),
    ({"host_province": "Hà Nội"}, "region"),  # Hà Nội is not in the Mekong Delta
    ({"kind": "bazaar"}, "kind"),
    ({"kind": "showcase"}, "kind"),  # its name before issue 4
    ({"budget": 5 * 8_000_000 - 1}, "budget"),
    ({"response_days": 0}, "response_days"),
    ({"organiser_kind": "club"}, "organiser_kind"),
    ({"rules": {"provinces": ["Xứ Đoài"]}}, "rules.provinces"),
    ({"rules": {"regions": ["tay_bac"]}}, "rules.regions"),
    ({"rules": {"groups": [7]}}, "rules.groups"),
    ({"rules": {"groups": [1, 1]}}, "rules.groups"),
    ({"rules": {"subgroups": ["9.9"]}}, "rules.subgroups"),
    ({"rules": {"groups": [2], "subgroups": ["1.3"]}}, "rules.subgroups"),
    ({"rules": {"groups": [2], "group_quotas": {"1": 0.5}}}, "rules.group_quotas"),
    ({"rules": {"group_quotas": {"1": 1.5}}}, "rules.group_quotas"),
    ({"rules": {"group_quotas": {"food": 0.5}}}, "rules.group_quotas"),
    ({"rules": {"producer_kinds": ["farm"]}}, "rules.producer_kinds"),
    ({"rules": {"max_booths_per_producer": 0}}, "rules.max_booths_per_producer"),
    ({"rules": {"regional_weights": {"far": -1}}}, "rules.regional_weights"),
    ({"rules": {"overbooking_percent": 500}}, "rules.overbooking_percent"),
    ({"rules": {"admit_uncertified": "maybe"}}, "rules.admit_uncertified"),
]


@pytest.mark.parametrize(("over", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_fairs_are_refused_naming_the_field_and_nothing_written(platform, api, over, field):
    body = fair_body("Quảng Ninh", **over)
    if "rules" in over:
        body["rules"] = over["rules"]
    with nothing_written(platform):
        refused(api.call("POST", "events", "/fairs", "trade_officer", json=body), 422, field)


# ---- editing -----------------------------------------------------------------------------------
def patch(api, fair_id, **changes):
    return api.call("PATCH", "events", f"/fairs/{fair_id}", "trade_officer", json=changes)


def test_a_draft_changes_freely_and_quietly_rules_merge_key_by_key(platform, api):
    fair = create_fair(api, "Quảng Ninh", rules={"min_stars": 3, "groups": [1, 2]})
    before = outbox_count(platform)
    r = patch(
        api,
        fair["id"],
        capacity=80,
        venue="Trung tâm Hội nghị tỉnh",
        rules={"min_stars": 4},
        host_province="Hậu Giang",
        kind="exhibition",
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["capacity"], changed["venue"], changed["kind"]) == (80, "Trung tâm Hội nghị tỉnh", "exhibition")
    assert (changed["host_province"], changed["host_province_entered"]) == ("Cần Thơ", "Hậu Giang")
    assert changed["rules"]["min_stars"] == 4 and changed["rules"]["groups"] == [1, 2]
    assert changed["version"] == 2 and outbox_count(platform) == before  # a draft is the department's own
    weights = patch(api, fair["id"], rules={"regional_weights": {"far": 9}}).json()["rules"]["regional_weights"]
    again = patch(api, fair["id"], rules={"regional_weights": {"host": 1}}).json()["rules"]["regional_weights"]
    assert (weights, again) == ({"host": 6.0, "near": 3.0, "far": 9.0}, {"host": 1.0, "near": 3.0, "far": 9.0})


def test_a_published_fair_announces_each_change_once(platform, api):
    fair = create_fair(api, "Quảng Ninh")
    published = publish(api, fair["id"], invite=False)
    assert published["status"] == "published" and invitations(api, fair["id"]) == []
    [announced] = events_of(platform, "events.fair.published", fair["id"])
    assert announced["data"]["status"] == "published" and announced["data"]["organiser"] == "Sở Công Thương"
    r = patch(api, fair["id"], capacity=9, subsidy_per_booth=9_000_000, name=fair["name"])
    assert r.status_code == 200 and r.json()["version"] == published["version"] + 1, r.text
    [updated] = events_of(platform, "events.fair.updated", fair["id"])
    assert updated["data"]["changed"] == ["capacity", "subsidy_per_booth"]  # the name did not change
    assert (updated["data"]["capacity"], updated["subject_version"]) == (9, published["version"] + 1)
    same = patch(api, fair["id"], capacity=9)
    assert (
        same.json()["version"] == published["version"] + 1
        and len(events_of(platform, "events.fair.updated", fair["id"])) == 1
    )


def test_edits_that_break_a_rule_are_refused_and_change_nothing(platform, api):
    fair = create_fair(api, "Quảng Ninh", rules={"groups": [1]})
    cases = [
        ({"ends_on": "2020-01-01"}, "ends_on"),
        ({"invitation_deadline": _past()}, "invitation_deadline"),
        ({"rules": {"subgroups": ["2.1"]}}, "rules.subgroups"),
        ({"budget": 1}, "budget"),
        ({"host_province": "Gondor"}, "host_province"),
        ({"capacity": 0}, "capacity"),
    ]
    for changes, field in cases:
        with nothing_written(platform):
            refused(patch(api, fair["id"], **changes), 422, field)
    assert get_fair(api, fair["id"])["version"] == 1


def test_while_inviting_only_booths_money_and_names_change_and_more_booths_promote(platform, api):
    mine = [register(api, "Quảng Ninh", score=88 - n) for n in range(3)]
    from events_support import known

    known(api, [p["id"] for m in mine for p in m["products"]])
    fair = create_fair(api, "Quảng Ninh", capacity=1)
    publish(api, fair["id"])
    ranked = invitations(api, fair["id"])
    mine_ids = {m["id"] for m in mine}
    assert [i["status"] for i in ranked if i["producer_id"] in mine_ids][:2] == ["issued", "waitlisted"]
    with nothing_written(platform):
        refused(patch(api, fair["id"], rules={"min_stars": 5}), 422, "rules")
        refused(patch(api, fair["id"], starts_on="2031-01-01"), 422, "starts_on")
    r = patch(api, fair["id"], capacity=2)
    assert r.status_code == 200, r.text
    promoted = events_of(platform, "events.waitlist.promoted", fair_id=fair["id"])
    assert [e["data"]["cause"] for e in promoted] == ["capacity_raised"]
    assert sum(i["status"] == "issued" for i in invitations(api, fair["id"])) == 2


def test_capacity_below_the_booths_assigned_is_refused(platform, api):
    two = register(api, "Quảng Ninh", products=2)
    from events_support import known

    known(api, [p["id"] for p in two["products"]])
    fair = create_fair(api, "Quảng Ninh", capacity=3, rules={"max_booths_per_producer": 2})
    publish(api, fair["id"])
    inv = by_producer(api, fair["id"])[two["id"]]
    assert answer(api, inv).json()["booths"] == [1, 2]
    with nothing_written(platform):
        body = refused(patch(api, fair["id"], capacity=1), 422, "capacity")
    assert "2 booths are already assigned" in body["errors"]["json"]["capacity"][0]
    assert patch(api, fair["id"], capacity=2).status_code == 200


# ---- the lifecycle -----------------------------------------------------------------------------
def post(api, fair_id, action, **kw):
    return api.call("POST", "events", f"/fairs/{fair_id}/{action}", "trade_officer", **kw)


def test_the_lifecycle_draft_published_inviting_closed_held_each_with_its_event(platform, api):
    producer = register(api, "Thái Nguyên")
    from events_support import known

    known(api, [producer["products"][0]["id"]])
    fair = create_fair(api, "Thái Nguyên")
    publish(api, fair["id"], invite=False)
    r = post(api, fair["id"], "invite")
    assert r.status_code == 200 and r.json()["status"] == "inviting", r.text
    [inviting] = events_of(platform, "events.fair.inviting", fair["id"])
    assert (inviting["data"]["previous_status"], inviting["data"]["invited"]) == ("published", 1)
    inv = by_producer(api, fair["id"])[producer["id"]]
    assert inv["status"] == "issued"

    r = post(api, fair["id"], "close")
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    assert events_of(platform, "events.invitation.expired", inv["id"])  # unanswered when invitations closed
    assert by_producer(api, fair["id"])[producer["id"]]["status"] == "expired"
    with nothing_written(platform):
        body = refused(post(api, fair["id"], "hold"), 422, "status")  # it has not started yet
    assert "cannot be held before" in body["errors"]["json"]["status"][0]
    move_fair(platform, fair["id"], date.today() - timedelta(days=3), date.today() - timedelta(days=1))
    r = post(api, fair["id"], "hold")
    assert r.status_code == 200 and r.json()["status"] == "held", r.text
    kinds = [
        e["type"]
        for e in sum(
            (
                events_of(platform, t, fair["id"])
                for t in ("events.fair.published", "events.fair.inviting", "events.fair.closed", "events.fair.held")
            ),
            [],
        )
    ]
    assert kinds == ["events.fair.published", "events.fair.inviting", "events.fair.closed", "events.fair.held"]
    versions = [
        e["subject_version"]
        for t in ("events.fair.published", "events.fair.inviting", "events.fair.closed", "events.fair.held")
        for e in events_of(platform, t, fair["id"])
    ]
    assert versions == sorted(versions) and len(set(versions)) == 4
    for action in ("publish", "invite", "close", "cancel"):  # held is final
        with nothing_written(platform):
            refused(post(api, fair["id"], action), 422, "status")


def test_cancelling_withdraws_every_open_invitation_and_frees_the_booths(platform, api):
    a, b = register(api, "Lạng Sơn", score=88), register(api, "Lạng Sơn", score=60)  # 4★ and 3★
    from events_support import known

    known(api, [a["products"][0]["id"], b["products"][0]["id"]])
    fair = create_fair(api, "Lạng Sơn", capacity=1)
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    assert answer(api, mine[a["id"]]).status_code == 200
    r = post(api, fair["id"], "cancel", json={"reason": "Bão số 3 đổ bộ, hoãn mọi sự kiện đông người"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["booths_assigned"]) == ("cancelled", 0)
    assert r.json()["cancel_reason"] == "Bão số 3 đổ bộ, hoãn mọi sự kiện đông người"
    [cancelled] = events_of(platform, "events.fair.cancelled", fair["id"])
    assert (cancelled["data"]["previous_status"], cancelled["data"]["reason"]) == (
        "inviting",
        "Bão số 3 đổ bộ, hoãn mọi sự kiện đông người",
    )
    withdrawn = {
        e["data"]["producer_id"]: e["data"]
        for e in events_of(platform, "events.invitation.withdrawn", fair_id=fair["id"])
    }
    assert withdrawn[a["id"]]["booths"] == [1] and withdrawn[a["id"]]["previous_status"] == "accepted"
    assert withdrawn[b["id"]]["previous_status"] == "waitlisted"
    assert {(w["cause"], w["detail"]) for w in withdrawn.values()} == {
        ("fair_cancelled", "Bão số 3 đổ bộ, hoãn mọi sự kiện đông người")
    }
    assert {i["status"] for i in invitations(api, fair["id"])} == {"withdrawn"}
    with nothing_written(platform):
        refused(post(api, fair["id"], "cancel", json={}), 422, "status")
        refused(patch(api, fair["id"], name="Hội chợ mới"), 422, "status")


def test_a_draft_can_be_cancelled_and_nothing_else_skips_a_step(platform, api):
    fair = create_fair(api, "Thái Nguyên")
    with nothing_written(platform):
        for action in ("invite", "close", "hold"):
            refused(post(api, fair["id"], action), 422, "status")
    r = post(api, fair["id"], "cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["cancel_reason"] is None


def test_fairs_list_filters_by_status_and_kind(api):
    fair = create_fair(api, "Thái Nguyên", kind="exhibition")
    listed = api.call("GET", "events", "/fairs", "trade_officer", params={"status": "draft", "kind": "exhibition"})
    assert listed.status_code == 200 and fair["id"] in [f["id"] for f in listed.json()]
    assert all(f["status"] == "draft" and f["kind"] == "exhibition" for f in listed.json())
    bad = api.call("GET", "events", "/fairs", "trade_officer", params={"status": "open"})
    assert bad.status_code == 422 and "status" in bad.json()["errors"]["query"]
