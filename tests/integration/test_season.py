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
        producers.append({"producer_id": f"{tag}-P{n:02d}", "name": f"Hợp tác xã {n}", "source_version": 1,
                          "kind": rnd.choice(["cooperative", "household"]), "province": province, "region": region,
                          "updated_at": now})
    for n in range(240):
        owner = producers[rnd.randrange(len(producers))]
        group = rnd.choice([1, 1, 2, 3])
        subgroup = rnd.choice([None, f"{group}.1", f"{group}.3"])
        pid = f"{tag}-p{n:03d}"
        products.append({"product_id": pid, "producer_id": owner["producer_id"], "name": f"Sản phẩm {n}",
                         "group": group, "subgroup": subgroup, "potential_five_star": False, "source_version": 1,
                         "updated_at": now})
        status = rnd.choice(["current", "current", "current", "revoked", "expired", "uncertified"])
        stars = rnd.choice([3, 4, 5]) if status != "uncertified" else 0
        valid = TODAY + timedelta(days=rnd.choice([30, 64, 65, 70, 400])) if status != "uncertified" else None
        if status != "uncertified":
            certified.append({"product_id": pid, "product_name": f"Sản phẩm {n}", "producer_id": owner["producer_id"],
                              "producer_name": owner["name"], "producer_kind": owner["kind"], "group": group,
                              "province": owner["province"], "region": owner["region"], "stars": stars,
                              "certification_id": str(uuid.uuid4()), "valid_until": valid, "status": status,
                              "subgroup": subgroup, "potential_five_star": False, "source_version": 2,
                              "updated_at": now})
        candidates.append(matching.Candidate(pid, f"Sản phẩm {n}", owner["producer_id"], owner["name"],
                                             owner["kind"], group, owner["province"], owner["region"], stars, valid,
                                             status, subgroup))
    return producers, products, certified, candidates


def _rules(rnd: random.Random) -> matching.Rules:
    return matching.Rules.from_dict({
        "min_stars": rnd.choice([3, 4, 5]), "admit_uncertified": rnd.random() < 0.4,
        "groups": rnd.choice([[], [1], [1, 2]]), "subgroups": rnd.choice([[], ["1.3"], ["1.1", "2.3"]]),
        "regions": rnd.choice([[], ["mekong_delta"]]), "provinces": rnd.choice([[], ["Hà Nội"]]),
        "producer_kinds": rnd.choice([[], ["household"]]), "valid_through_end": rnd.random() < 0.5})


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
            t = matching.FairTerms("F", "trade_fair", TODAY + timedelta(days=60), TODAY + timedelta(days=64),
                                   "mekong_delta", 10, _rules(rnd))
            expected = {matching.row_of(c) for c in candidates if not matching.failures(c, t.rules, t.starts_on,
                                                                                          t.ends_on)}
            got = selection.rows(s, t, producer_ids=ids)
            assert len(got) == len(set(got)) and set(got) == expected, t.rules
            checked += len(expected)
        s.rollback()
    assert checked > 400  # the rule sets admitted something to compare
