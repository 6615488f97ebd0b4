"""The registry's product list through the API, against an oracle: one plain query ordered by the
database and filtered in Python. The list's queries are shaped for a big register (ids first, a
union of the two trigram-indexed sides for a search, the total with the page or from the fewest
tables); here every filter, sort and page they can take must give exactly the plain answer.

Runs on SQLite (embedded) or on a fresh PostgreSQL database (real mode, where the trigram
indexes and the materialized match set are in play)."""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from support import TEST_SECRET, TEST_TOKEN_KEY, TEST_TOKEN_PUBLIC_KEY, real_mode, reset_postgres

from shared.auth import issue_token
from shared.text import fold

PROVINCES = [
    ("Vĩnh Long", "Bến Tre", "mekong_delta"),
    ("Hà Nội", "Hà Nội", "red_river_delta"),
    ("Lâm Đồng", "Đắk Nông", "central_highlands"),
    ("Huế", "Thừa Thiên Huế", "north_central_coast"),
    ("Vĩnh Long", "Trà Vinh", "mekong_delta"),
    ("Vĩnh Long", "Vĩnh Long", "mekong_delta"),
    ("Tây Ninh", "Long An", "mekong_delta"),
    ("Tây Ninh", "Tây Ninh", "southeast"),
]
KINDS = ["cooperative", "enterprise", "household", "cooperative_group"]
GOODS = ["Kẹo dừa", "Nước mắm 40% đạm", "Trà_xanh", "Mật ong 1/2 lít", "Bánh tráng", "Cà phê", "Gạo ST25"]
TODAY = date(2026, 6, 1)


def _register(session_factory) -> None:
    from services.registry.models import Certification, Producer, Product

    rnd = random.Random(7)
    with session_factory() as s, s.begin():
        producers = []
        for n in range(60):
            province, entered, region = rnd.choice(PROVINCES)
            name = f"{rnd.choice(['Hợp tác xã', 'Cơ sở', 'Công ty TNHH'])} {rnd.choice(GOODS)} {n}"
            producers.append(
                Producer(
                    code=f"T-{n:03d}",
                    name=name,
                    name_folded=fold(name),
                    kind=rnd.choice(KINDS),
                    province=province,
                    province_entered=entered,
                    region=region,
                    preferred_language="vi",
                    consent={},
                    version=1,
                )
            )
        s.add_all(producers)
        s.flush()
        start = datetime(2024, 1, 1, tzinfo=UTC)
        for n in range(400):
            name = f"{rnd.choice(GOODS)} {rnd.choice(['Bến Tre', 'Đà Lạt', 'đặc biệt', ''])} {n % 37}".strip()
            owner = rnd.choice(producers)
            product = Product(
                producer_id=owner.id,
                name=name,
                name_folded=fold(name),
                province=owner.province,
                region=owner.region,
                producer_kind=owner.kind,
                group=rnd.choice([1, 1, 1, 2, 4]),
                potential_five_star=rnd.random() < 0.1,
                version=1,
                created_at=start + timedelta(days=n % 50),
            )  # ties: the id decides
            s.add(product)
            s.flush()
            roll = rnd.random()
            if roll < 0.15:
                continue  # not certified
            stars = 3 if roll < 0.7 else 4 if roll < 0.97 else 5
            decided = TODAY - timedelta(days=rnd.randint(1, 1000))
            history = [("superseded", decided - timedelta(days=400))] if rnd.random() < 0.2 else []
            for status, day in [*history, ("current" if rnd.random() < 0.9 else "revoked", decided)]:
                s.add(
                    Certification(
                        product_id=product.id,
                        kind="new",
                        criteria_version="148/QĐ-TTg",
                        score={3: 60, 4: 80, 5: 95}[stars],
                        stars=stars,
                        level="national" if stars == 5 else "province",
                        issued_by="UBND tỉnh",
                        decision_number=f"{rnd.randint(1, 999)}/QĐ-UBND",
                        decision_date=day,
                        valid_until=day + timedelta(days=1095),
                        status=status,
                    )
                )


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from services.registry.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    if real_mode():
        name = f"ocop_lists{os.environ.get('OCOP_TEST_TAG', '')}_registry"
        url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], [name])[name]
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('lists') / 'registry.sqlite'}"
    settings = dataclasses.replace(
        load("registry"), database_url=url, secret_key=TEST_SECRET, token_public_key=TEST_TOKEN_PUBLIC_KEY
    )
    app = create_app(settings=settings, migrate=True)
    rt = runtime_of(app)
    _register(rt.session_factory)
    client = app.test_client()
    client.headers = {"Authorization": f"Bearer {issue_token(TEST_TOKEN_KEY, 'trade_officer', 'test-officer')}"}
    client.runtime = rt
    yield client
    rt.engine.dispose()


def oracle(rt, filters: dict, sort: str) -> list[dict]:
    """Every product with its current certification, ordered by the database by the sort column and
    id (its own NULL placement), then filtered here; a search's product-name matches first."""
    from sqlalchemy import and_, select

    from services.registry.models import Certification, Producer, Product
    from shared import reference

    key = {
        "name": Product.name_folded,
        "stars": Certification.stars,
        "valid_until": Certification.valid_until,
        "created_at": Product.created_at,
    }[sort.lstrip("-")]
    q = (
        select(
            Product.id,
            Product.name_folded,
            Product.group,
            Product.potential_five_star,
            Product.producer_id,
            Producer.name_folded.label("producer_folded"),
            Producer.province,
            Producer.region,
            Producer.kind,
            Producer.province_entered,
            Certification.id.label("cert"),
            Certification.stars,
            Certification.valid_until,
        )
        .join(Producer, Producer.id == Product.producer_id)
        .outerjoin(Certification, and_(Certification.product_id == Product.id, Certification.status == "current"))
        .order_by(key.desc() if sort.startswith("-") else key.asc(), Product.id)
    )
    with rt.session_factory() as s:
        rows = s.execute(q).all()
        status = _statuses(s)
    wanted = fold(filters["q"]) if filters.get("q") else None
    filters = dict(filters)
    if filters.get("province") and not reference.is_current_province(filters["province"]):
        filters["entered"] = reference.resolve_province(filters.pop("province")).entered_as  # a pre-2025 name
    if filters.get("old_province"):
        filters["old_province"] = reference.resolve_province(filters["old_province"]).entered_as

    def keep(r) -> bool:
        return (
            (wanted is None or wanted in r.name_folded or wanted in r.producer_folded)
            and all(
                filters.get(k) is None or filters[k] == v
                for k, v in (
                    ("province", r.province),
                    ("entered", r.province_entered),
                    ("old_province", r.province_entered),
                    ("region", r.region),
                    ("producer_kind", r.kind),
                    ("group", r.group),
                    ("producer_id", r.producer_id),
                    ("stars", r.stars),
                    ("potential_five_star", r.potential_five_star),
                )
            )
            and (filters.get("certified") is None or filters["certified"] == (r.cert is not None))
            and (
                filters.get("expiring_before") is None
                or (r.valid_until is not None and r.valid_until < filters["expiring_before"])
            )
            and (filters.get("status") is None or filters["status"] == status.get(r.id, "uncertified"))
        )

    kept = [r for r in rows if keep(r)]
    return kept if wanted is None else sorted(kept, key=lambda r: wanted not in r.name_folded)  # stable


def _statuses(session) -> dict:
    """Each certified product's certificate status, worked out here: current if it holds a current
    certification, else how its latest one (by decision date, then creation) ended."""
    from sqlalchemy import select

    from services.registry.models import Certification

    history: dict = {}
    for c in session.scalars(select(Certification)):
        history.setdefault(c.product_id, []).append(c)
    return {
        pid: "current"
        if any(c.status == "current" for c in cs)
        else max(cs, key=lambda c: (c.decision_date, c.created_at)).status
        for pid, cs in history.items()
    }


def listing(client, filters: dict, sort: str, page: int, per_page: int) -> dict:
    params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items()}
    r = client.get(
        "/products", query_string={**params, "sort": sort, "page": page, "per_page": per_page}, headers=client.headers
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def some_producer(client) -> str:
    from sqlalchemy import select

    from services.registry.models import Producer

    with client.runtime.session_factory() as s:
        return s.scalar(select(Producer.id).order_by(Producer.code))


FILTERS = [
    {},
    {"q": "keo dua"},
    {"q": "KẸO DỪA"},
    {"q": "hop tac xa"},
    {"q": "40%"},
    {"q": "%"},
    {"q": "_"},
    {"q": "tra_xanh"},
    {"q": "1/2"},
    {"q": "a"},
    {"q": "không có"},
    {"province": "Hà Nội"},
    {"province": "Vĩnh Long", "group": 1},
    {"region": "mekong_delta", "producer_kind": "household", "certified": True},
    {"stars": 4},
    {"stars": 5},
    {"stars": 3, "group": 1},
    {"certified": False},
    {"certified": True},
    {"expiring_before": TODAY + timedelta(days=200)},
    {"potential_five_star": True},
    {"q": "keo dua", "province": "Vĩnh Long"},
    {"q": "ca phe", "stars": 4},
    {"q": "co so", "certified": False},
    {"q": "banh trang", "expiring_before": TODAY + timedelta(days=400), "producer_kind": "cooperative"},
    # the certificate status with the filters on the current certification (each was a 500)
    {"status": "revoked"},
    {"status": "uncertified"},
    {"status": "current", "stars": 4},
    {"status": "revoked", "stars": 3},
    {"status": "current", "certified": True},
    {"status": "revoked", "certified": False},
    {"status": "uncertified", "certified": True},
    {"status": "current", "expiring_before": TODAY + timedelta(days=400)},
    {"q": "keo dua", "status": "current", "stars": 3},
    {"q": "co so", "status": "revoked", "certified": False},
    # pre-2025 provinces (issue 11): an old name that is no current one, or old_province, selects the
    # records entered under it; a current name all of the merged province
    {"province": "Bến Tre"},
    {"province": "tra vinh", "stars": 3},
    {"province": "Tây Ninh"},
    {"old_province": "Vĩnh Long"},
    {"old_province": "Tây Ninh", "certified": True},
    {"q": "keo dua", "province": "Bến Tre"},
    {"q": "ca phe", "old_province": "Long An", "status": "current"},
]
SORTS = ["name", "-name", "stars", "-stars", "valid_until", "-valid_until", "created_at", "-created_at"]


@pytest.mark.parametrize("few", [True, False], ids=["match-set-first", "planner-walks"])
def test_every_filter_sort_and_page_gives_the_plain_answer(registry, monkeypatch, few):
    from services.registry import queries

    monkeypatch.setattr(queries, "FEW", 10**9 if few else 0)
    checked = 0
    for filters, sort in itertools.product(FILTERS + [{"producer_id": some_producer(registry)}], SORTS):
        expected = oracle(registry.runtime, filters, sort)
        for page, per_page in ((1, 7), (3, 7), (1, 500)):
            got = listing(registry, filters, sort, page, per_page)
            want = [r.id for r in expected[(page - 1) * per_page : page * per_page]]
            assert got["total"] == len(expected), (filters, sort)
            assert [i["id"] for i in got["items"]] == want, (filters, sort, page)
            checked += len(want)
    assert checked > 5000  # the matrix selected real rows, not only empty pages


def test_items_carry_the_current_certificate_and_the_producer(registry):
    expected = {r.id: r for r in oracle(registry.runtime, {}, "name")}
    items = listing(registry, {}, "name", 1, 500)["items"]
    assert len(items) == 400 and len({i["id"] for i in items}) == 400
    for item in items:
        row = expected[item["id"]]
        assert item["stars"] == row.stars and item["producer_id"] == row.producer_id
        assert (item["certification_status"] == "current") == (row.cert is not None)
        assert (item["valid_until"] is None) == (row.valid_until is None)
        assert fold(item["name"]) == row.name_folded and fold(item["producer_name"]) == row.producer_folded
    assert any("Kẹo dừa" in i["name"] for i in items)  # diacritics round-trip
    assert {i["province_entered"] for i in items} >= {"Bến Tre", "Đắk Nông"}


def test_a_product_found_by_its_name_and_its_producer_is_listed_once(registry):
    both = [
        r
        for r in oracle(registry.runtime, {"q": "keo dua"}, "name")
        if "keo dua" in r.name_folded and "keo dua" in r.producer_folded
    ]
    assert both, "the register has such products"
    got = listing(registry, {"q": "keo dua"}, "name", 1, 500)
    ids = [i["id"] for i in got["items"]]
    assert len(ids) == len(set(ids)) == got["total"]
    assert {r.id for r in both} <= set(ids)


@pytest.mark.parametrize("filters", [{}, {"q": "keo dua"}, {"stars": 4}, {"province": "Hà Nội"}])
def test_a_page_past_the_end_is_empty_and_keeps_the_total(registry, filters):
    total = len(oracle(registry.runtime, filters, "name"))
    got = listing(registry, filters, "name", 200, 50)
    assert got["items"] == [] and got["total"] == total > 0
    none = listing(registry, {**filters, "q": "không có sản phẩm này"}, "name", 1, 50)
    assert none == {"total": 0, "page": 1, "per_page": 50, "items": []}


def test_export_lists_what_the_list_lists(registry):
    import csv
    import io

    for filters, sort in (
        ({"q": "keo dua", "certified": True}, "-stars"),
        ({"province": "Huế"}, "valid_until"),
        ({"status": "current", "stars": 4, "expiring_before": TODAY + timedelta(days=600)}, "name"),
    ):
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items()}
        r = registry.get("/products/export.csv", query_string={**params, "sort": sort}, headers=registry.headers)
        assert r.status_code == 200
        rows = list(csv.DictReader(io.StringIO(r.get_data().decode("utf-8").lstrip("\ufeff"))))
        assert [row["id"] for row in rows] == [x.id for x in oracle(registry.runtime, filters, sort)]
