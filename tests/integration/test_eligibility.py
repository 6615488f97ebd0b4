"""One rule, one place: the SQL selection (``selection.rows`` and ``selection.candidates``, which
matching, top-ups and season planning read the read model with) admits exactly the products the
pure rule (``eligibility.failures``) admits, on random fairs and random catalogues (hypothesis),
on the mode's database: SQLite by default, PostgreSQL in real mode.

Each example writes its catalogue into the events read model and rolls it back; the queries are
narrowed to the example's producers (or products), so other tests' rows never enter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.events import matching, selection
from services.events.eligibility import failures

STARTS = date.today() + timedelta(days=60)
ENDS = STARTS + timedelta(days=4)
PLACES = [("Vĩnh Long", "mekong_delta"), ("Hà Nội", "red_river_delta"), ("Đồng Nai", "southeast")]
GROUPS = [1, 2, 5]
SUBGROUPS = ["1.1", "1.2", "2.1", "5.1"]
KINDS = ["cooperative", "household", "enterprise"]
# Certificates ending around the fair's first and last days, and well after.
VALIDITY = [
    STARTS - timedelta(days=1),
    STARTS,
    STARTS + timedelta(days=2),
    ENDS,
    ENDS + timedelta(days=1),
    ENDS + timedelta(days=400),
]

producers = st.tuples(st.sampled_from(PLACES), st.sampled_from(KINDS))
product = st.fixed_dictionaries(
    {
        "owner": st.integers(0, 5),
        "group": st.sampled_from(GROUPS),
        "sub": st.sampled_from([None, 1, 2]),
        "status": st.sampled_from(["current", "current", "revoked", "expired", "uncertified"]),
        "stars": st.integers(3, 5),
        "valid_until": st.sampled_from(VALIDITY),
        "key": st.booleans(),
        "potential": st.booleans(),
    }
)


def subset(values):
    return st.lists(st.sampled_from(values), unique=True, max_size=len(values))


rules = st.fixed_dictionaries(
    {
        "min_stars": st.integers(1, 5),
        "admit_uncertified": st.booleans(),
        "admit_provincial_key": st.booleans(),
        "groups": subset(GROUPS),
        "subgroups": subset(SUBGROUPS),
        "regions": subset([r for _, r in PLACES]),
        "provinces": subset([p for p, _ in PLACES]),
        "producer_kinds": subset(KINDS),
        "valid_through_end": st.booleans(),
    }
)


def _write(s, tag: str, owners: list, items: list[dict]) -> list[matching.Candidate]:
    """The catalogue as read-model rows (producers, products, certified products), and as candidates."""
    from services.events.models import CertifiedProduct, ProducerView, ProductView

    now = datetime.now(UTC)
    people = [
        {
            "producer_id": f"{tag}-P{n}",
            "name": f"Hợp tác xã {tag} {n}",
            "kind": kind,
            "province": province,
            "region": region,
            "source_version": 1,
            "updated_at": now,
        }
        for n, ((province, region), kind) in enumerate(owners)
    ]
    rows, certified, out = [], [], []
    for n, item in enumerate(items):
        who = people[item["owner"] % len(people)]
        pid, name, group = f"{tag}-p{n:02d}", f"Sản phẩm {n}", item["group"]
        subgroup = f"{group}.{item['sub']}" if item["sub"] else None
        rows.append(
            {
                "product_id": pid,
                "producer_id": who["producer_id"],
                "name": name,
                "group": group,
                "subgroup": subgroup,
                "potential_five_star": item["potential"],
                "provincial_key_product": item["key"],
                "source_version": 1,
                "updated_at": now,
            }
        )
        uncertified = item["status"] == "uncertified"
        stars, valid = (0, None) if uncertified else (item["stars"], item["valid_until"])
        if not uncertified:
            certified.append(
                {
                    "product_id": pid,
                    "product_name": name,
                    "producer_id": who["producer_id"],
                    "producer_name": who["name"],
                    "producer_kind": who["kind"],
                    "group": group,
                    "province": who["province"],
                    "region": who["region"],
                    "stars": stars,
                    "certification_id": str(uuid.uuid4()),
                    "valid_until": valid,
                    "status": item["status"],
                    "subgroup": subgroup,
                    "potential_five_star": item["potential"],
                    "provincial_key_product": item["key"],
                    "source_version": 2,
                    "updated_at": now,
                }
            )
        out.append(
            matching.Candidate(
                pid,
                name,
                who["producer_id"],
                who["name"],
                who["kind"],
                group,
                who["province"],
                who["region"],
                stars,
                valid,
                item["status"],
                subgroup,
                item["potential"],
                item["key"],
            )
        )
    s.execute(ProducerView.__table__.insert(), people)
    s.execute(ProductView.__table__.insert(), rows)
    if certified:
        s.execute(CertifiedProduct.__table__.insert(), certified)
    return out


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    owners=st.lists(producers, min_size=1, max_size=6),
    items=st.lists(product, min_size=1, max_size=25),
    fairs=st.lists(rules, min_size=1, max_size=4),
    narrow=st.integers(0, 3),
)
def test_the_sql_selection_admits_exactly_what_the_rule_admits(platform, owners, items, fairs, narrow):
    tag = f"elig-{uuid.uuid4().hex[:8]}"
    with platform.runtimes["events"].session_factory() as s:
        try:
            catalogue = _write(s, tag, owners, items)
            ids = sorted({c.producer_id for c in catalogue})
            some = [c.product_id for c in catalogue][narrow::4]
            for body in fairs:
                t = matching.FairTerms(
                    "F", "showcase_point", STARTS, ENDS, "mekong_delta", 10, matching.Rules.from_dict(body)
                )
                admitted = {c for c in catalogue if not failures(c, t.rules, STARTS, ENDS)}
                eligible = matching.eligibility(t)
                assert {c for c in catalogue if eligible(c)} == admitted

                got = selection.candidates(s, t, producer_ids=ids)
                assert len(got) == len(set(got)) and set(got) == admitted, body
                rows = selection.rows(s, t, producer_ids=ids)
                assert len(rows) == len(set(rows)) and set(rows) == {matching.row_of(c) for c in admitted}, body
                narrowed = selection.candidates(s, t, product_ids=some)
                assert set(narrowed) == {c for c in admitted if c.product_id in some}, body
        finally:
            s.rollback()
