"""A big events read model for the matching benches (``bench/match.py``, ``bench/season.py``).

Untimed setup shared by both: a database next to ``BENCH_PG_URL`` dropped, created and migrated
with the events service's own migrations, then loaded with COPY:

- producers (default 100,000) of the four kinds in the national mix, across the 34 provinces
  weighted by region (Red River Delta 29%, Mekong Delta 19%, ...);
- their certified products (default 200,000; every producer has at least one) with Vietnamese
  names from the registry bench's vocabulary, in the six groups in the national proportions
  (food 79%, ...) with sub-groups; 76% 3★, 23.5% 4★, 0.5% 5★ (15% of the 4★ potential 5★);
  certificates decided over the last 35 months (valid 36), 3% expired and 2% revoked;
- 4% more products never certified (the products read model only), for fairs admitting
  "potential OCOP" products;
- a year of history: ``past_fairs`` fairs held in the last 12 months, each with invitations
  (accepted, declined, expired) to about ``past_invitations`` producers, and fairs accepted for
  the coming weeks (what makes a producer busy for an overlapping fair).

Then VACUUM ANALYZE, as autovacuum would have done.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

CERTIFIED_COLUMNS = [
    "product_id",
    "product_name",
    "producer_id",
    "producer_name",
    "producer_kind",
    "group",
    "province",
    "region",
    "stars",
    "certification_id",
    "valid_until",
    "status",
    "subgroup",
    "potential_five_star",
    "source_version",
    "updated_at",
]
PRODUCT_COLUMNS = [
    "product_id",
    "producer_id",
    "name",
    "group",
    "subgroup",
    "potential_five_star",
    "source_version",
    "updated_at",
]
PRODUCER_COLUMNS = ["producer_id", "name", "kind", "province", "region", "source_version", "updated_at"]


def log(bench: str, text: str) -> None:
    print(f"[{bench}] {text}", file=sys.stderr, flush=True)


def fresh_database(base_url: str, name: str) -> str:
    """Drop and create database ``name`` next to ``base_url``; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(base_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _subgroups() -> dict[int, list[str]]:
    data = json.loads((ROOT / "services" / "registry" / "reference" / "criteria.json").read_text(encoding="utf-8"))
    latest = max(data["versions"], key=lambda v: v["effective_from"])
    return {int(g): list(info["subgroups"]) for g, info in latest["groups"].items()}


def generate(n_products: int, n_producers: int, seed: int, today: date):
    """Rows (tuples in the *_COLUMNS order) of producers, products and certified products."""
    from bench.search import BRANDS, GOODS, GROUP_WEIGHTS, KIND_PREFIX, KINDS, REGION_WEIGHTS, _provinces

    rnd = random.Random(seed)
    by_region: dict[str, list] = {}
    for name, region, olds in _provinces():
        by_region.setdefault(region, []).append((name, olds))
    regions, region_w = zip(*REGION_WEIGHTS.items(), strict=True)
    kinds, kind_w = zip(*KINDS, strict=True)
    groups, group_w = zip(*GROUP_WEIGHTS.items(), strict=True)
    subgroups = _subgroups()
    now = datetime.now(UTC)

    producers = []
    for _ in range(n_producers):
        region = rnd.choices(regions, region_w)[0]
        province, olds = rnd.choice(by_region[region])
        kind = rnd.choices(kinds, kind_w)[0]
        name = f"{rnd.choice(KIND_PREFIX[kind])} {rnd.choice(GOODS[1])[0]} {rnd.choice(BRANDS)} {rnd.choice(olds)}"
        producers.append((str(uuid.uuid4()), name, kind, province, region, 1, now))

    products, certified = [], []
    n_uncertified = n_products * 4 // 100
    for n in range(n_products + n_uncertified):
        owner = producers[rnd.randrange(n_producers) if n >= n_producers else n]
        group = rnd.choices(groups, group_w)[0]
        base, qualifiers = rnd.choice(GOODS[group])
        name = " ".join(p for p in (base, rnd.choice(qualifiers), owner[3], rnd.choice(BRANDS)) if p)
        subgroup = rnd.choice(subgroups[group])
        product_id = str(uuid.uuid4())
        if n >= n_products:  # never certified: the products read model only
            products.append((product_id, owner[0], name, group, subgroup, False, 1, now))
            continue
        r = rnd.random()
        stars = 3 if r < 0.76 else 4 if r < 0.995 else 5
        potential = stars == 4 and rnd.random() < 0.15
        products.append((product_id, owner[0], name, group, subgroup, potential, 2, now))
        decided = today - timedelta(days=rnd.randint(1, 35 * 30))
        valid_until, status = decided + timedelta(days=1095), "current"
        r = rnd.random()
        if r < 0.03:
            valid_until, status = today - timedelta(days=rnd.randint(1, 365)), "expired"
        elif r < 0.05:
            status = "revoked"
        certified.append(
            (
                product_id,
                name,
                owner[0],
                owner[1],
                owner[2],
                group,
                owner[3],
                owner[4],
                stars,
                str(uuid.uuid4()),
                valid_until,
                status,
                subgroup,
                potential,
                3,
                now,
            )
        )
    return producers, products, certified


def load(url: str, producers, products, certified) -> None:
    """COPY the read model in (one transaction)."""
    import psycopg

    with psycopg.connect(dsn(url)) as conn:
        with conn.cursor() as cur:
            for table, columns, rows in (
                ("producers", PRODUCER_COLUMNS, producers),
                ("products", PRODUCT_COLUMNS, products),
                ("certified_products", CERTIFIED_COLUMNS, certified),
            ):
                names = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def analyse(url: str) -> None:
    import psycopg

    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def history(
    session_factory,
    producer_ids: list[str],
    today: date,
    seed: int,
    past_fairs: int = 60,
    past_invitations: int = 250,
    busy_fairs: int = 20,
    busy_accepted: int = 150,
) -> None:
    """A year of fairs and invitations: the fairness part and double booking have data to read.

    ``past_fairs`` held fairs over the last 12 months with about ``past_invitations`` invitations
    each (60% accepted, 25% declined, 15% expired), and ``busy_fairs`` staffed fairs in the coming
    ten weeks, inviting, with ``busy_accepted`` acceptances each."""
    from services.events.models import Fair, Invitation

    rnd = random.Random(seed + 1)
    now = datetime.now(UTC)
    fairs, invitations = [], []

    def fair(n: int, starts: date, status: str) -> str:
        fid = str(uuid.uuid4())
        fairs.append(
            {
                "id": fid,
                "name": f"Hội chợ OCOP {n}",
                "kind": "trade_fair",
                "organiser": "Sở Công Thương",
                "organiser_kind": "trade_department",
                "host_province": "Hà Nội",
                "region": "red_river_delta",
                "venue": f"Trung tâm Triển lãm {n}",
                "starts_on": starts,
                "ends_on": starts + timedelta(days=4),
                "capacity": 400,
                "booths_assigned": 0,
                "invitation_deadline": datetime.combine(starts, datetime.min.time(), UTC),
                "response_days": 14,
                "subsidy_per_booth": 0,
                "rules": {},
                "status": status,
                "version": 3,
                "created_at": now,
            }
        )
        return fid

    def invite(fid: str, producer: str, status: str, created: datetime, rank: int) -> None:
        invitations.append(
            {
                "id": str(uuid.uuid4()),
                "fair_id": fid,
                "producer_id": producer,
                "products": [],
                "status": status,
                "group": 1,
                "booth_count": 1,
                "rank": rank,
                "score": 50.0,
                "score_parts": {},
                "reasons": [],
                "deadline": created + timedelta(days=14),
                "issued_at": created,
                "version": 2,
                "created_at": created,
            }
        )

    for n in range(past_fairs):
        starts = today - timedelta(days=rnd.randint(20, 350))
        fid = fair(n, starts, "held")
        created = datetime.combine(starts - timedelta(days=30), datetime.min.time(), UTC)
        for rank, producer in enumerate(
            rnd.sample(producer_ids, rnd.randint(past_invitations // 2, past_invitations * 3 // 2)), 1
        ):
            r = rnd.random()
            invite(fid, producer, "accepted" if r < 0.6 else "declined" if r < 0.85 else "expired", created, rank)
    for n in range(busy_fairs):
        starts = today + timedelta(days=rnd.randint(20, 90))
        fid = fair(past_fairs + n, starts, "inviting")
        created = now - timedelta(days=rnd.randint(1, 10))
        for rank, producer in enumerate(rnd.sample(producer_ids, busy_accepted), 1):
            invite(fid, producer, "accepted", created, rank)
    with session_factory() as s, s.begin():
        s.execute(Fair.__table__.insert(), fairs)
        for k in range(0, len(invitations), 5000):
            s.execute(Invitation.__table__.insert(), invitations[k : k + 5000])


def build(base_url: str, name: str, n_products: int, n_producers: int, seed: int, bench: str):
    """Fresh database ``name``, migrated, with the read model and a year of history. Returns
    (url, engine, session factory, producer ids)."""
    import time

    from shared.db import make_engine, make_session_factory, run_migrations

    started = time.monotonic()
    url = fresh_database(base_url, name)
    run_migrations(ROOT / "services" / "events", url)
    today = date.today()
    producers, products, certified = generate(n_products, n_producers, seed, today)
    load(url, producers, products, certified)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ids = [p[0] for p in producers]
    history(factory, ids, today, seed)
    analyse(url)
    log(
        bench,
        f"{name}: {len(certified)} certified products of {len(producers)} producers, "
        f"{len(products) - len(certified)} never certified, a year of history; set up in "
        f"{time.monotonic() - started:.0f}s (untimed)",
    )
    return url, engine, factory, ids
