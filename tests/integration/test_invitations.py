"""Matching and invitations through the real APIs and the bus, in both modes: preview and "why not",
promotion from the waitlist on decline, expiry and withdrawal, certificates revoked before the fair,
top-ups, double booking, overbooking, fairness over the year, potential OCOP products, and the
answers that must be refused."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from events_support import (
    answer,
    by_producer,
    create_fair,
    events_of,
    get_fair,
    known,
    publish,
    register,
)
from support import ROOT, wait_for

from services.events.worker import run_expiry


def explain(api, fair_id, product_id):
    return api.call("GET", "events", f"/fairs/{fair_id}/explain/{product_id}", "trade_officer")


def preview(api, fair_id):
    r = api.call("GET", "events", f"/fairs/{fair_id}/preview", "trade_officer")
    assert r.status_code == 200, r.text
    return r.json()


def first_product(producer) -> str:
    return producer["products"][0]["id"]


def line_up(api, province, dates, **kw) -> list[dict]:
    """Producers in score order: the same stars, certificates of decreasing freshness."""
    made = [register(api, province, decided=d, **kw) for d in dates]
    known(api, [p["id"] for m in made for p in m["products"]])
    return made


# ---- preview and why (not) ---------------------------------------------------------------------
def test_preview_and_why_not_before_and_after_invitations_go_out(platform, api):
    a, b, c, f = line_up(api, "Phú Thọ", ["2025-07-20", "2025-06-20", "2025-05-20", "2025-04-20"])
    three = register(api, "Phú Thọ", score=60)  # 3★, below the fair's minimum
    craft = register(api, "Phú Thọ", group=4)  # handicraft, not admitted
    two = register(api, "Phú Thọ", products=2, decided="2025-03-20")
    known(api, [first_product(three), first_product(craft)] + [p["id"] for p in two["products"]])
    fair = create_fair(
        api,
        "Phú Thọ",
        capacity=2,
        rules={"min_stars": 4, "groups": [1], "waitlist_size": 1, "max_products_per_producer": 1},
    )

    ranked = preview(api, fair["id"])
    assert [r["producer_id"] for r in ranked] == [a["id"], b["id"], c["id"], f["id"], two["id"]]
    assert [r["outcome"] for r in ranked] == ["issue", "issue", "waitlist", "below_cut", "below_cut"]
    top = ranked[0]
    assert set(top["parts"]) == {"stars", "freshness", "fairness", "region", "quota_fit"}
    assert top["score"] == round(sum(top["parts"].values()), 3) and top["parts"]["stars"] == 40.0
    assert top["reasons"][0].endswith("meets every rule of the fair") and top["products"][0]["stars"] == 4

    why = explain(api, fair["id"], first_product(three)).json()
    assert (why["outcome"], [r["rule"] for r in why["failed_rules"]]) == ("ineligible", ["min_stars"])
    assert "3★ is below the fair's minimum of 4★" in why["message"]
    why = explain(api, fair["id"], first_product(craft)).json()
    assert [r["rule"] for r in why["failed_rules"]] == ["groups"]
    why = explain(api, fair["id"], first_product(c)).json()
    assert (why["outcome"], why["rank"]) == ("would_be_waitlisted", 3) and why["parts"] == ranked[2]["parts"]
    outcomes = sorted(explain(api, fair["id"], p["id"]).json()["outcome"] for p in two["products"])
    assert outcomes == ["below_cut", "other_products_chosen"]  # one product per producer

    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    assert {p: mine[p]["status"] for p in (a["id"], b["id"], c["id"])} == {
        a["id"]: "issued",
        b["id"]: "issued",
        c["id"]: "waitlisted",
    }
    assert f["id"] not in mine and mine[a["id"]]["score_parts"] == top["parts"]
    assert mine[a["id"]]["reasons"] == top["reasons"]
    why = explain(api, fair["id"], first_product(b)).json()
    assert (why["outcome"], why["invitation_status"], why["rank"]) == ("chosen", "issued", 2)
    why = explain(api, fair["id"], first_product(c)).json()
    assert (why["outcome"], why["invitation_status"]) == ("chosen", "waitlisted")
    why = explain(api, fair["id"], first_product(f)).json()
    assert why["outcome"] == "below_cut" and why["rank"] == 4
    assert why["cut"] == {"rank": 2, "score": mine[b["id"]]["score"]} and why["score"] < why["cut"]["score"]
    assert "ranked below the cut" in why["message"]
    assert explain(api, fair["id"], "no-such-product").status_code == 404
    assert explain(api, "no-such-fair", first_product(a)).status_code == 404
    assert (
        api.call(
            "GET", "events", f"/fairs/{fair['id']}/explain/{first_product(a)}", "producer", sub=a["id"]
        ).status_code
        == 403
    )


# ---- answers, decline, withdrawal ------------------------------------------------------------------
def test_decline_and_withdrawal_promote_the_next_and_wrong_answers_are_refused(platform, api):
    a, b, c = line_up(api, "Hưng Yên", ["2025-07-20", "2025-06-20", "2025-05-20"])
    fair = create_fair(api, "Hưng Yên", capacity=1)
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    assert [mine[p["id"]]["status"] for p in (a, b, c)] == ["issued", "waitlisted", "waitlisted"]

    r = answer(api, mine[b["id"]])
    assert r.status_code == 409 and "waitlist" in r.json()["message"]
    r = answer(api, mine[a["id"]], producer_id=b["id"])
    assert r.status_code == 403 and "another producer" in r.json()["message"]
    assert "invitation_id" in r.json()["errors"]["json"]
    r = answer(api, mine[a["id"]], "decline", note="Vụ thu hoạch trùng ngày hội chợ")
    assert r.status_code == 200 and r.json()["note"] == "Vụ thu hoạch trùng ngày hội chợ", r.text
    assert answer(api, mine[a["id"]]).status_code == 409
    [promoted] = events_of(platform, "events.waitlist.promoted", fair_id=fair["id"])
    assert promoted["data"] | {"deadline": None} == {
        "invitation_id": mine[b["id"]]["id"],
        "producer_id": b["id"],
        "fair_id": fair["id"],
        "rank": 2,
        "cause": "declined",
        "cause_invitation_id": mine[a["id"]]["id"],
        "deadline": None,
    }
    [issued] = events_of(platform, "events.invitation.issued", mine[b["id"]]["id"])  # notifications emails it
    assert issued["subject_version"] == promoted["subject_version"] + 1
    assert issued["data"]["deadline"] == promoted["data"]["deadline"]

    r = api.call(
        "POST",
        "events",
        f"/invitations/{mine[b['id']]['id']}/withdraw",
        "trade_officer",
        json={"reason": "Hồ sơ an toàn thực phẩm chưa đầy đủ"},
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    assert r.json()["status_reason"] == "withdrawn by the organiser: Hồ sơ an toàn thực phẩm chưa đầy đủ"
    again = api.call(
        "POST", "events", f"/invitations/{mine[b['id']]['id']}/withdraw", "trade_officer", json={"reason": "lần nữa"}
    )
    assert again.status_code == 409
    [by_hand] = events_of(platform, "events.invitation.withdrawn", mine[b["id"]]["id"])
    assert (by_hand["data"]["cause"], by_hand["data"]["detail"]) == ("organiser", "Hồ sơ an toàn thực phẩm chưa đầy đủ")
    causes = [e["data"]["cause"] for e in events_of(platform, "events.waitlist.promoted", fair_id=fair["id"])]
    assert causes == ["declined", "withdrawn"]

    r = answer(api, by_producer(api, fair["id"])[c["id"]])
    assert r.status_code == 200 and (r.json()["status"], r.json()["booth"], r.json()["booths"]) == ("accepted", 1, [1])
    [assigned] = events_of(platform, "events.booth.assigned", fair["id"])
    assert assigned["data"]["booths"] == [1] and assigned["data"]["booths_assigned"] == 1
    assert [e["data"]["booths"] for e in events_of(platform, "events.invitation.accepted", fair_id=fair["id"])] == [[1]]
    assert answer(api, by_producer(api, fair["id"])[c["id"]], "decline").status_code == 409
    assert get_fair(api, fair["id"])["booths_assigned"] == 1


def test_an_answer_the_events_service_cannot_apply_is_refused_with_its_cause(platform, api):
    """An answer arriving over the bus (notifications.invitation.answered) that a rule refuses gets
    events.invitation.answer_refused with the reason in words and its cause as a code."""
    from services.events.consumers import on_invitation_answered

    a, b = line_up(api, "Thái Bình", ["2025-07-20", "2025-06-20"])
    fair = create_fair(api, "Thái Bình", capacity=1)
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    rt = platform.runtimes["events"]
    cases = [
        (mine[b["id"]], b["id"], datetime.now(UTC), "waitlisted"),
        (mine[a["id"]], b["id"], datetime.now(UTC), "not_yours"),
        # received 400 days on: too late, whatever time the message claims (here: now)
        (mine[a["id"]], a["id"], datetime.now(UTC) + timedelta(days=400), "deadline_passed"),
    ]
    for inv, producer_id, received, _ in cases:
        handle = on_invitation_answered(rt.emit, clock=lambda received=received: received)
        at = datetime.now(UTC)
        with rt.session_factory() as session, session.begin():
            handle(
                session,
                {"id": "x", "type": "notifications.invitation.answered"},
                {
                    "invitation_id": inv["id"],
                    "producer_id": producer_id,
                    "fair_id": fair["id"],
                    "answer": "accept",
                    "note": None,
                    "answered_at": at,
                },
            )
    for inv, producer_id, _, cause in cases:
        refusal = [
            e["data"]
            for e in events_of(platform, "events.invitation.answer_refused", inv["id"])
            if e["data"]["producer_id"] == producer_id and e["data"]["cause"] == cause
        ]
        assert len(refusal) == 1 and refusal[0]["reason"], (cause, refusal)
    assert by_producer(api, fair["id"])[a["id"]]["status"] == "issued"  # nothing applied


# ---- expiry ------------------------------------------------------------------------------------
def end_of_day_in_vietnam(moment: datetime) -> datetime:
    """23:59:59 in Vietnam on the day ``moment`` falls on there."""
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    return datetime.combine(moment.astimezone(vn).date(), time(23, 59, 59), tzinfo=vn)


def test_unanswered_invitations_expire_once_and_the_waitlist_moves_up(platform, api):
    a, b = line_up(api, "Nghệ An", ["2025-07-20", "2025-06-20"])
    fair = create_fair(api, "Nghệ An", capacity=1, response_days=14)
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    issued_at = datetime.fromisoformat(mine[a["id"]]["issued_at"])
    deadline = datetime.fromisoformat(mine[a["id"]]["deadline"])
    assert deadline == end_of_day_in_vietnam(issued_at + timedelta(days=14))  # 23:59 of the 14th day, a round time
    rt = platform.runtimes["events"]
    run_expiry(rt, deadline + timedelta(minutes=5))  # within the grace period: an answer may be on its way
    assert by_producer(api, fair["id"])[a["id"]]["status"] == "issued"
    later = deadline + timedelta(minutes=11)  # past the grace period
    first = run_expiry(rt, later)
    assert first["expired"] >= 1
    mine = by_producer(api, fair["id"])
    assert (mine[a["id"]]["status"], mine[b["id"]]["status"]) == ("expired", "issued")
    # its own 14 days, to the end of the day as well
    assert datetime.fromisoformat(mine[b["id"]]["deadline"]) == end_of_day_in_vietnam(later + timedelta(days=14))
    assert run_expiry(rt, later)["expired"] == 0  # idempotent
    assert len(events_of(platform, "events.invitation.expired", mine[a["id"]]["id"])) == 1
    [promoted] = events_of(platform, "events.waitlist.promoted", fair_id=fair["id"])
    assert (promoted["data"]["cause"], promoted["data"]["producer_id"]) == ("expired", b["id"])
    r = answer(api, mine[a["id"]])
    assert r.status_code == 409 and "expired" in r.json()["message"]


def test_the_manage_command_expires_what_is_overdue(platform, api):
    a = line_up(api, "Hà Tĩnh", ["2025-07-20"])[0]
    deadline = datetime.now(UTC) + timedelta(seconds=2)
    fair = create_fair(api, "Hà Tĩnh", capacity=1, invitation_deadline=deadline.isoformat())
    publish(api, fair["id"])
    wait_for(lambda: datetime.now(UTC) > deadline, message="the deadline to pass")
    env = {**os.environ, "OCOP_EXPIRY_GRACE_SECONDS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "services.events.manage", "expire"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "'expired': " in done.stdout and "'expired': 0" not in done.stdout
    assert by_producer(api, fair["id"])[a["id"]]["status"] == "expired"


# ---- certificates ending before the fair ----------------------------------------------------------
def revoke(api, cert_id):
    r = api.call(
        "POST",
        "registry",
        f"/certifications/{cert_id}/revoke",
        "registry_officer",
        json={
            "reason": "Vi phạm an toàn thực phẩm",
            "decision_number": "2214/QĐ-UBND",
            "decision_date": date.today().isoformat(),
        },
    )
    assert r.status_code == 200, r.text


def test_a_revoked_certificate_drops_the_product_then_withdraws_and_promotes(platform, api):
    a = register(api, "Quảng Trị", products=2, decided="2025-07-20")
    b = register(api, "Quảng Trị", decided="2025-05-20")
    known(api, [p["id"] for m in (a, b) for p in m["products"]])
    fair = create_fair(api, "Quảng Trị", capacity=1)
    publish(api, fair["id"])
    inv = by_producer(api, fair["id"])[a["id"]]
    assert inv["status"] == "issued" and len(inv["products"]) == 2
    assert answer(api, inv).json()["booth"] == 1

    revoke(api, a["certs"][0]["id"])

    def dropped():
        now = api.call("GET", "events", f"/invitations/{inv['id']}", "trade_officer").json()
        return len(now["products"]) == 1 and now

    still = wait_for(dropped, message="the revoked product dropped from the invitation")
    assert still["status"] == "accepted" and "its certificate was revoked" in still["reasons"][-1]

    revoke(api, a["certs"][1]["id"])
    wait_for(lambda: by_producer(api, fair["id"])[b["id"]]["status"] == "issued", message="promotion")
    [withdrawn] = events_of(platform, "events.invitation.withdrawn", inv["id"])
    assert (withdrawn["data"]["previous_status"], withdrawn["data"]["booths"]) == ("accepted", [1])
    assert "was revoked" in withdrawn["data"]["reason"] and withdrawn["data"]["cause"] == "certificate_revoked"
    assert withdrawn["data"]["detail"] in withdrawn["data"]["reason"]  # the product's name
    [promoted] = events_of(platform, "events.waitlist.promoted", fair_id=fair["id"])
    assert (promoted["data"]["cause"], promoted["data"]["cause_invitation_id"]) == ("withdrawn", inv["id"])
    assert get_fair(api, fair["id"])["booths_assigned"] == 0
    assert answer(api, by_producer(api, fair["id"])[b["id"]]).json()["booth"] == 1  # the freed booth


# ---- top-ups ----------------------------------------------------------------------------------------
def test_a_product_certified_while_a_fair_invites_with_room_is_topped_up(platform, api):
    first = line_up(api, "Quảng Ngãi", ["2025-07-20"])[0]
    roomy = create_fair(api, "Quảng Ngãi", capacity=3)
    closed_to_top_ups = create_fair(api, "Quảng Ngãi", capacity=3, rules={"top_up": False})
    full = create_fair(api, "Quảng Ngãi", capacity=1)
    for fair in (roomy, closed_to_top_ups, full):
        publish(api, fair["id"])
    late = register(api, "Quảng Ngãi")
    inv = wait_for(lambda: by_producer(api, roomy["id"]).get(late["id"]), message="top-up invitation")
    assert inv["status"] == "issued" and inv["rank"] == 2
    assert inv["reasons"][-1] == "topped up: certified while the fair was inviting and had room"
    assert events_of(platform, "events.invitation.issued", inv["id"])
    assert late["id"] not in by_producer(api, closed_to_top_ups["id"])
    assert set(by_producer(api, full["id"])) == {first["id"]}


# ---- never double-booked ------------------------------------------------------------------------
def test_a_producer_accepted_at_an_overlapping_fair_is_not_invited_again(platform, api):
    a = line_up(api, "Gia Lai", ["2025-07-20"])[0]
    first = create_fair(api, "Gia Lai", capacity=2)
    second = create_fair(api, "Gia Lai", capacity=2)  # same dates
    publish(api, first["id"])
    publish(api, second["id"])
    assert answer(api, by_producer(api, first["id"])[a["id"]]).status_code == 200
    r = answer(api, by_producer(api, second["id"])[a["id"]])
    assert r.status_code == 409 and "already exhibiting at" in r.json()["message"], r.text

    overlapping = create_fair(api, "Gia Lai", capacity=2)
    showcase = create_fair(api, "Gia Lai", capacity=2, kind="showcase_point", days=200)
    later = create_fair(api, "Gia Lai", capacity=2, starts_in=90)
    for fair in (overlapping, showcase, later):
        publish(api, fair["id"])
    assert a["id"] not in by_producer(api, overlapping["id"])
    why = explain(api, overlapping["id"], first_product(a)).json()
    assert why["outcome"] == "ineligible" and [r["rule"] for r in why["failed_rules"]] == ["double_booking"]
    assert first["name"] in why["message"]
    assert by_producer(api, showcase["id"])[a["id"]]["status"] == "issued"  # shelves, not a staffed booth
    assert by_producer(api, later["id"])[a["id"]]["status"] == "issued"


def test_overbooked_offers_are_withdrawn_once_the_booths_are_gone(platform, api):
    a, b = line_up(api, "Khánh Hòa", ["2025-07-20", "2025-06-20"])
    fair = create_fair(api, "Khánh Hòa", capacity=1, rules={"overbooking_percent": 100})
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    assert (mine[a["id"]]["status"], mine[b["id"]]["status"]) == ("issued", "issued")
    assert answer(api, mine[b["id"]]).json()["booth"] == 1
    late = answer(api, mine[a["id"]])
    assert late.status_code == 409 and "withdrawn" in late.json()["message"]
    [withdrawn] = events_of(platform, "events.invitation.withdrawn", mine[a["id"]]["id"])
    assert withdrawn["data"]["reason"] == "every booth of the fair is taken"
    assert (withdrawn["data"]["cause"], withdrawn["data"]["detail"]) == ("fair_full", None)


# ---- fairness over the year -----------------------------------------------------------------------
def test_a_producer_invited_this_year_gives_way_to_one_who_was_not(platform, api):
    a, b = line_up(api, "Lâm Đồng", ["2025-07-20", "2025-06-20"])
    spring = create_fair(api, "Lâm Đồng", capacity=1)
    publish(api, spring["id"])
    assert by_producer(api, spring["id"])[a["id"]]["status"] == "issued"
    autumn = create_fair(api, "Lâm Đồng", capacity=1, starts_in=120)
    publish(api, autumn["id"])
    mine = by_producer(api, autumn["id"])
    assert (mine[b["id"]]["status"], mine[a["id"]]["status"]) == ("issued", "waitlisted")
    assert (mine[b["id"]]["score_parts"]["fairness"], mine[a["id"]]["score_parts"]["fairness"]) == (15.0, 7.5)
    assert "invited 1 and exhibited 0 times in the last 12 months" in mine[a["id"]]["reasons"]


# ---- potential OCOP -------------------------------------------------------------------------------
def test_a_fair_may_admit_products_not_yet_certified(platform, api):
    hopeful = register(api, "Đắk Lắk", certify=False, name="Tổ hợp tác Cà phê Buôn Ma Thuột", kind="cooperative_group")
    product = first_product(hopeful)
    strict = create_fair(api, "Đắk Lắk", capacity=2)
    wait_for(lambda: explain(api, strict["id"], product).status_code == 200, message="product in the read model")
    why = explain(api, strict["id"], product).json()
    assert [r["rule"] for r in why["failed_rules"]] == ["admit_uncertified"]
    open_fair = create_fair(api, "Đắk Lắk", capacity=2, rules={"admit_uncertified": True, "min_stars": 4})
    publish(api, open_fair["id"])
    inv = by_producer(api, open_fair["id"])[hopeful["id"]]
    assert inv["status"] == "issued" and inv["products"] == [
        {"product_id": product, "name": "Mật ong rừng U Minh 1", "stars": 0}
    ]
    assert inv["score_parts"]["stars"] == 0.0 and "potential OCOP" in inv["reasons"][0]
