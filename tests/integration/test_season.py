"""Season planning through the events API, in both modes, and the selection query it (and every
fair's matching) reads the read model with.

Isolation: the season's fairs admit only provinces of their own (``PROVINCES`` below, used by no
other test module), so other tests' producers never enter the plans and the plans' invitations
never reach other tests' fairs.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from events_support import create_fair, events_of, get_fair, invitations, known, publish, register

from services.events import matching, selection

TODAY = date.today()


# ---- the selection query -------------------------------------------------------------------------
def _catalogue(rnd: random.Random, tag: str):
    """Random producers, products and certifications, as read-model rows and as candidates."""
    now = datetime.now(UTC)
    producers, products, certified, candidates = [], [], [], []
    places = [("Vĩnh Long", "mekong_delta"), ("Hà Nội", "red_river_delta"), ("Đồng Nai", "southeast")]
    for n in range(40):
        province, region = rnd.choice(places)
        producers.append(
            {
                "producer_id": f"{tag}-P{n:02d}",
                "name": f"Hợp tác xã {n}",
                "source_version": 1,
                "kind": rnd.choice(["cooperative", "household"]),
                "province": province,
                "region": region,
                "updated_at": now,
            }
        )
    for n in range(240):
        owner = producers[rnd.randrange(len(producers))]
        group = rnd.choice([1, 1, 2, 3])
        subgroup = rnd.choice([None, f"{group}.1", f"{group}.3"])
        pid = f"{tag}-p{n:03d}"
        products.append(
            {
                "product_id": pid,
                "producer_id": owner["producer_id"],
                "name": f"Sản phẩm {n}",
                "group": group,
                "subgroup": subgroup,
                "potential_five_star": False,
                "source_version": 1,
                "updated_at": now,
            }
        )
        status = rnd.choice(["current", "current", "current", "revoked", "expired", "uncertified"])
        stars = rnd.choice([3, 4, 5]) if status != "uncertified" else 0
        valid = TODAY + timedelta(days=rnd.choice([30, 64, 65, 70, 400])) if status != "uncertified" else None
        if status != "uncertified":
            certified.append(
                {
                    "product_id": pid,
                    "product_name": f"Sản phẩm {n}",
                    "producer_id": owner["producer_id"],
                    "producer_name": owner["name"],
                    "producer_kind": owner["kind"],
                    "group": group,
                    "province": owner["province"],
                    "region": owner["region"],
                    "stars": stars,
                    "certification_id": str(uuid.uuid4()),
                    "valid_until": valid,
                    "status": status,
                    "subgroup": subgroup,
                    "potential_five_star": False,
                    "source_version": 2,
                    "updated_at": now,
                }
            )
        candidates.append(
            matching.Candidate(
                pid,
                f"Sản phẩm {n}",
                owner["producer_id"],
                owner["name"],
                owner["kind"],
                group,
                owner["province"],
                owner["region"],
                stars,
                valid,
                status,
                subgroup,
            )
        )
    return producers, products, certified, candidates


def _rules(rnd: random.Random) -> matching.Rules:
    return matching.Rules.from_dict(
        {
            "min_stars": rnd.choice([3, 4, 5]),
            "admit_uncertified": rnd.random() < 0.4,
            "groups": rnd.choice([[], [1], [1, 2]]),
            "subgroups": rnd.choice([[], ["1.3"], ["1.1", "2.3"]]),
            "regions": rnd.choice([[], ["mekong_delta"]]),
            "provinces": rnd.choice([[], ["Hà Nội"]]),
            "producer_kinds": rnd.choice([[], ["household"]]),
            "valid_through_end": rnd.random() < 0.5,
        }
    )


def test_the_selection_query_admits_exactly_what_the_rules_admit(platform):
    """``selection.rows`` applies every rule in SQL: the same products as ``matching.failures``,
    on SQLite and PostgreSQL alike (then rolled back)."""
    from services.events.models import CertifiedProduct, ProducerView, ProductView

    rnd = random.Random(4)
    tag = f"sel-{uuid.uuid4().hex[:6]}"
    producers, products, certified, candidates = _catalogue(rnd, tag)
    ids = sorted({p["producer_id"] for p in producers})
    with platform.runtimes["events"].session_factory() as s:
        s.execute(ProducerView.__table__.insert(), producers)
        s.execute(ProductView.__table__.insert(), products)
        s.execute(CertifiedProduct.__table__.insert(), certified)
        checked = 0
        for _ in range(40):
            t = matching.FairTerms(
                "F",
                "trade_fair",
                TODAY + timedelta(days=60),
                TODAY + timedelta(days=64),
                "mekong_delta",
                10,
                _rules(rnd),
            )
            expected = {
                matching.row_of(c) for c in candidates if not matching.failures(c, t.rules, t.starts_on, t.ends_on)
            }
            got = selection.rows(s, t, producer_ids=ids)
            assert len(got) == len(set(got)) and set(got) == expected, t.rules
            checked += len(expected)
        every = [c.product_id for c in candidates]
        looked_up = selection.details(s)(every)
        assert looked_up == {c.product_id: c for c in candidates}  # certified or not, as the read model has them
        scanned = selection.details(s, t)
        selection.SCAN_ABOVE, saved = 0, selection.SCAN_ABOVE  # a whole ranking read: one scan of the fair's rows
        try:
            assert scanned(every) == looked_up
        finally:
            selection.SCAN_ABOVE = saved
        s.rollback()
    assert checked > 400  # the rule sets admitted something to compare


# ---- season planning through the API -------------------------------------------------------------
PROVINCES = ("Thanh Hóa", "Bắc Ninh", "Đồng Tháp")  # used by no other test module


def rows(platform) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from services.events.models import Fair, Invitation, Outbox

    with platform.runtimes["events"].session_factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Fair, Invitation, Outbox))


def season(api, action: str, **body):
    return api.call("POST", "events", f"/seasons/{action}", "trade_officer", json=body)


def producers(api, province: str, scores: list[int]) -> list[dict]:
    made = [register(api, province, score=s, name=f"Hợp tác xã Nông sản Đồng Xanh {n}") for n, s in enumerate(scores)]
    known(api, [p["id"] for m in made for p in m["products"]])
    return made


def refused(r, status: int, field: str) -> dict:
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    assert field in r.json()["errors"]["json"], r.json()
    return r.json()


def test_a_season_preview_shares_the_fairs_out_and_writes_nothing(platform, api):
    made = producers(api, "Thanh Hóa", [95, 92, 90, 88, 80, 75, 70, 65])  # 5★ 5★ 5★ 4★ 4★ 4★ 4★ 3★
    first = create_fair(api, "Thanh Hóa", capacity=3, starts_in=200, rules={"waitlist_size": 2})
    second = create_fair(
        api, "Thanh Hóa", capacity=3, starts_in=230, rules={"waitlist_size": 2}, name="Phiên chợ OCOP xứ Thanh"
    )
    before = rows(platform)
    r = season(api, "preview", fair_ids=[second["id"], first["id"]])
    assert r.status_code == 200, r.text
    plan = r.json()
    assert rows(platform) == before and plan["applied"] is False
    assert [f["fair_id"] for f in plan["fairs"]] == [first["id"], second["id"]]  # season (date) order
    one, two = ({c["producer_id"] for c in f["choices"] if c["outcome"] == "issue"} for f in plan["fairs"])
    assert len(one) == len(two) == 3 and not one & two  # six producers invited once, not three twice
    ids = [m["id"] for m in made]
    assert set(ids[:3]) < one | two and len((one | two) & set(ids[3:7])) == 3  # the 5★, three 4★ (ties: by id)
    assert plan["fairs"][1]["name"] == "Phiên chợ OCOP xứ Thanh" and plan["fairs"][0]["status"] == "draft"
    chosen = plan["fairs"][1]["choices"][0]
    assert chosen["producer_name"].startswith("Hợp tác xã Nông sản Đồng Xanh") and chosen["province"] == "Thanh Hóa"
    assert chosen["reasons"][-1].startswith("season plan: chosen in round 1") and chosen["rank"] == 1
    assert chosen["fair_rank"] > 1 and chosen["products"][0]["name"].startswith("Mật ong rừng U Minh")
    assert [c["outcome"] for c in plan["fairs"][0]["choices"]] == ["issue"] * 3 + ["waitlist"] * 2
    mine, alone = plan["spread"]["plan"], plan["spread"]["greedy"]
    assert (mine["invitations"], mine["producers_invited"], mine["most_invitations"]) == (6, 6, 1)
    assert (alone["invitations"], alone["producers_invited"], alone["most_invitations"]) == (6, 3, 2)
    assert mine["eligible_producers"] == 8 and mine["share_invited"] == 0.75 and alone["share_invited"] == 0.375
    assert mine["gini"] < alone["gini"] and mine["invitations_per_producer"] == {"0": 2, "1": 6}
    assert mine["by_province"]["Thanh Hóa"] == {
        "invitations": 6,
        "producers_invited": 6,
        "eligible": 8,
        "share_invited": 0.75,
    }
    assert set(mine["by_region"]) == {"north_central_coast"}
    assert plan["fairs"][0]["greedy_invited"] == 3 and plan["fairs"][0]["eligible_producers"] == 8


def test_applying_a_season_publishes_and_invites_every_fair_with_the_events_of_publishing_each(platform, api):
    producers(api, "Bắc Ninh", [95, 91, 86, 84, 78, 72, 66])
    draft = create_fair(api, "Bắc Ninh", capacity=2, starts_in=210, rules={"waitlist_size": 2})
    announced = create_fair(
        api, "Bắc Ninh", capacity=2, starts_in=212, rules={"waitlist_size": 3}, kind="exhibition"
    )  # overlaps the first
    publish(api, announced["id"], invite=False)
    preview = season(api, "preview", fair_ids=[draft["id"], announced["id"]]).json()
    r = season(api, "apply", fair_ids=[draft["id"], announced["id"]])
    assert r.status_code == 200, r.text
    applied = r.json()
    assert applied["applied"] is True and [f["status"] for f in applied["fairs"]] == ["inviting", "inviting"]
    for planned_fair, done in zip(preview["fairs"], applied["fairs"], strict=True):
        expected = [(c["producer_id"], c["outcome"], c["rank"]) for c in planned_fair["choices"]]
        got = invitations(api, done["fair_id"])
        assert [
            (i["producer_id"], {"issued": "issue", "waitlisted": "waitlist"}[i["status"]], i["rank"]) for i in got
        ] == expected
        assert all(c["invitation_id"] for c in done["choices"])
    issued = [{i["producer_id"] for i in invitations(api, f["fair_id"], "issued")} for f in applied["fairs"]]
    assert len(issued[0]) == len(issued[1]) == 2 and not issued[0] & issued[1]  # overlapping: nobody in both
    assert len(events_of(platform, "events.fair.published", draft["id"])) == 1
    assert len(events_of(platform, "events.fair.published", announced["id"])) == 1  # announced before, once
    for fair in (draft, announced):
        [inviting] = events_of(platform, "events.fair.inviting", fair["id"])
        assert (inviting["data"]["invited"], inviting["data"]["previous_status"]) == (2, "published")
        sent = events_of(platform, "events.invitation.issued")
        mine = [e for e in sent if e["data"]["fair"]["fair_id"] == fair["id"]]
        assert len(mine) == 2 and all(e["data"]["reasons"][-1].startswith("season plan:") for e in mine)
    waiting = invitations(api, announced["id"], "waitlisted")
    assert [w["rank"] for w in waiting] == [3, 4, 5] and not {w["producer_id"] for w in waiting} & issued[0]
    refused(season(api, "apply", fair_ids=[draft["id"]]), 422, "fair_ids")  # now inviting: not plannable


def test_a_season_is_also_every_draft_or_published_fair_starting_in_a_date_range(platform, api):
    producers(api, "Đồng Tháp", [93, 85, 77])
    start = date.today() + timedelta(days=400)
    inside = [create_fair(api, "Đồng Tháp", capacity=1, starts_in=400 + k, host_province="Đồng Tháp") for k in (0, 9)]
    create_fair(api, "Đồng Tháp", capacity=1, starts_in=411)  # after the range
    r = season(
        api, "preview", starts_from=start.isoformat(), starts_until=(start + timedelta(days=10)).isoformat(), limit=0
    )
    assert r.status_code == 200, r.text
    assert [f["fair_id"] for f in r.json()["fairs"]] == [f["id"] for f in inside]
    assert all(f["choices"] == [] and f["invited"] == 1 for f in r.json()["fairs"])  # limit 0: counts only


BAD = [
    ({}, "starts_from"),
    ({"fair_ids": []}, "fair_ids"),
    ({"fair_ids": ["x", "x"]}, "fair_ids"),
    ({"fair_ids": ["no-such-fair"]}, "fair_ids"),
    ({"fair_ids": ["x"], "starts_from": "2030-01-01", "starts_until": "2030-02-01"}, "fair_ids"),
    ({"starts_from": "2030-01-01"}, "starts_until"),
    ({"starts_from": "2030-02-01", "starts_until": "2030-01-01"}, "starts_until"),
    ({"starts_from": "1999-01-01", "starts_until": "1999-01-31"}, "starts_from"),  # no fair then
    ({"starts_from": "2030-01-01", "starts_until": "2030-02-01", "limit": -1}, "limit"),
    ({"starts_from": "first of May", "starts_until": "2030-02-01"}, "starts_from"),
    ({"fair_ids": ["x"], "surprise": 1}, "surprise"),
]


@pytest.mark.parametrize("action", ["preview", "apply"])
@pytest.mark.parametrize(("body", "field"), BAD, ids=[f"{f}-{n}" for n, (_, f) in enumerate(BAD)])
def test_bad_seasons_are_refused_naming_the_field_and_nothing_written(platform, api, action, body, field):
    before = rows(platform)
    refused(season(api, action, **body), 422, field)
    assert rows(platform) == before


def test_a_season_with_a_fair_not_plannable_or_past_its_deadline_is_refused_whole(platform, api):
    producers(api, "Thanh Hóa", [89])
    ok = create_fair(api, "Thanh Hóa", capacity=1, starts_in=250)
    late = create_fair(api, "Thanh Hóa", capacity=1, starts_in=255)
    from services.events.models import Fair

    with platform.runtimes["events"].transaction() as s:
        s.get(Fair, late["id"]).invitation_deadline = datetime.now(UTC) - timedelta(hours=1)
    before = rows(platform)
    body = refused(season(api, "apply", fair_ids=[ok["id"], late["id"]]), 422, "fair_ids")
    assert "has passed" in body["errors"]["json"]["fair_ids"][0] and late["id"] in body["errors"]["json"]["fair_ids"][0]
    assert rows(platform) == before and get_fair(api, ok["id"])["status"] == "draft"
    cancelled = create_fair(api, "Thanh Hóa", capacity=1, starts_in=260)
    api.call("POST", "events", f"/fairs/{cancelled['id']}/cancel", "trade_officer", json={})
    body = refused(season(api, "preview", fair_ids=[ok["id"], cancelled["id"]]), 422, "fair_ids")
    assert "is cancelled" in body["errors"]["json"]["fair_ids"][0]
    assert api.call("POST", "events", "/seasons/preview", "producer", json={"fair_ids": [ok["id"]]}).status_code == 403
