"""Read side of the registry: filtered, searchable, sorted, paginated lists and programme
statistics. Search folds Vietnamese diacritics and case, so "keo dua" finds "Kẹo dừa".

Shaped for a register of hundreds of thousands of products (``bench/run search``):

- A page is found first as product ids with their sort key only, joining only the tables the
  filters and the sort need, and the 15 columns of its 50 or so rows are fetched afterwards.
- A search is the union of the products whose folded name contains the text (rank 0) and the other
  products of the producers whose folded name does (rank 1): each side can use its table's trigram
  index (pg_trgm, migration 7b1f0c6d2e4a), where ``name LIKE .. OR producer LIKE ..`` across the
  join could use neither and read every row. The two sides are disjoint, so they are put together
  with UNION ALL (no duplicate elimination). Results are ranked, product-name matches first, then
  ordered by the sort within each rank; each row says why it matched (``matched``). The total of a
  search comes with its page (``count(*) OVER ()``): the whole match set is read for the sort anyway.
- Otherwise the total is a separate count over as few tables as the filters allow (the
  certifications alone for a stars or expiry filter), so that a list sorted by an indexed column
  stops reading after its page. A product has at most one current certification (granting
  supersedes the current one under a lock on the product), so the outer join to it never
  multiplies rows and the count can leave it out when no filter is on it.
"""

from __future__ import annotations

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from shared import reference
from shared.errors import NotFound
from shared.text import fold

from .models import Certification, Producer, Product
from .province_filters import MATCHED

SORTS = {
    "name": Product.name_folded,
    "stars": Certification.stars,
    "valid_until": Certification.valid_until,
    "created_at": Product.created_at,
}
# The producer's province, region and kind are copied onto its products (kept in step by
# operations.update_producer): a filter on them reads the products alone, without the join. The
# name a producer's province was entered under (a pre-2025 one) is on the producer only
# (province_filters.py: ``province=Trà Vinh`` loads as province_entered, ``old_province`` as itself).
PRODUCER_FILTERS: dict = {"province_entered": Producer.province_entered, "old_province": Producer.province_entered}
PRODUCT_FILTERS = {
    "group": Product.group,
    "producer_id": Product.producer_id,
    "province": Product.province,
    "region": Product.region,
    "producer_kind": Product.producer_kind,
}
CERTIFICATE_FILTERS = ("stars", "certified", "expiring_before")
# At most this many matches: read them all, then sort (see _page_rows).
FEW = 5_000

# The columns of a list item, labelled as its keys.
ITEM_COLUMNS = [
    Product.id.label("id"),
    Product.name.label("name"),
    Product.name_en.label("name_en"),
    Product.group.label("group"),
    Product.potential_five_star.label("potential_five_star"),
    Producer.id.label("producer_id"),
    Producer.name.label("producer_name"),
    Producer.kind.label("producer_kind"),
    Producer.province.label("province"),
    Producer.province_entered.label("province_entered"),
    Producer.region.label("region"),
    Certification.stars.label("stars"),
    Certification.valid_until.label("valid_until"),
    Certification.decision_number.label("decision_number"),
    Certification.status.label("certification_status"),
]


def _current():
    """Outer join condition: a product's current certification, if it has one."""
    return and_(Certification.product_id == Product.id, Certification.status == "current")


def _pattern(text: str) -> str:
    """LIKE pattern for "contains the folded text": %, _ and the escape character match themselves."""
    folded = fold(text).replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{folded}%"


def _searching(filters: dict) -> bool:
    return bool(filters.get("q"))


def _needs(filters: dict, sort: str | None) -> tuple[bool, bool]:
    """Whether the filters (and sort) need the producers and the current certification joined."""
    producer = any(filters.get(k) is not None for k in PRODUCER_FILTERS)
    certificate = any(filters.get(k) is not None for k in CERTIFICATE_FILTERS) or (
        sort is not None and SORTS[sort.lstrip("-")].table is Certification.__table__
    )
    return producer, certificate


def _where_rows(q, filters: dict):
    """The filters on the product and its producer."""
    for key, column in {**PRODUCER_FILTERS, **PRODUCT_FILTERS}.items():
        if filters.get(key) is not None:
            q = q.where(column == filters[key])
    if filters.get("potential_five_star") is not None:
        q = q.where(Product.potential_five_star.is_(filters["potential_five_star"]))
    if filters.get("status") is not None:
        q = q.where(_status_is(filters["status"]))
    return q


STATUSES = ("current", "expired", "revoked", "uncertified")


def _status_is(status: str):
    """A product's certificate status: current (it holds a current certification); expired or
    revoked (it holds none, and its latest certification ended that way); uncertified (never
    certified).

    The subqueries read their own alias of the certifications, correlated to the product only:
    the outer query may itself join the current certification (a stars, certified or expiry
    filter), and a subquery on the same table would be correlated to that row and select nothing
    (SQLAlchemy refuses it: "no FROM clauses due to auto-correlation")."""
    own = aliased(Certification)
    mine = own.product_id == Product.id

    def subquery(*columns):
        return select(*columns).where(mine).correlate(Product)

    if status == "uncertified":
        return ~subquery(own.id).exists()
    current = subquery(own.id).where(own.status == "current").exists()
    if status == "current":
        return current
    latest = subquery(own.status).order_by(own.decision_date.desc(), own.created_at.desc()).limit(1).scalar_subquery()
    return and_(~current, latest == status)


def _where_certificate(q, filters: dict):
    """The filters on the current certification (outer-joined)."""
    if filters.get("stars") is not None:
        q = q.where(Certification.stars == filters["stars"])
    if filters.get("certified") is True:
        q = q.where(Certification.id.is_not(None))
    if filters.get("certified") is False:
        q = q.where(Certification.id.is_(None))
    if filters.get("expiring_before") is not None:
        q = q.where(Certification.valid_until < filters["expiring_before"])
    return q


def _matches(filters: dict, sort: str | None):
    """SELECT of the matching products' ids (as ``id``), with the sort key (as ``key``) when
    ``sort`` is given, and in a search their rank (as ``rank``: 0 product name, 1 producer name)."""
    producer, certificate = _needs(filters, sort)
    key = SORTS[sort.lstrip("-")] if sort is not None else None
    if not _searching(filters):
        q = select(Product.id.label("id"), *([key.label("key")] if key is not None else []))
        q = q.select_from(Product).join(Producer, Producer.id == Product.producer_id) if producer else q
        q = q.outerjoin(Certification, _current()) if certificate else q
        return _where_certificate(_where_rows(q, filters), filters)

    # A search: the products whose name matches (rank 0), and the other products of the producers
    # whose name matches (rank 1), each side found through its own trigram index; the two are
    # disjoint (UNION ALL); the certificate after the union.
    product_key = key is not None and key.table is Product.__table__
    like = _pattern(filters["q"])

    def side(by_producer: bool):
        q = select(
            Product.id.label("id"),
            *([key.label("key")] if product_key else []),
            literal(int(by_producer)).label("rank"),
        )
        if by_producer:
            q = (
                q.select_from(Producer)
                .join(Product, Product.producer_id == Producer.id)
                .where(Producer.name_folded.like(like, escape="/"), ~Product.name_folded.like(like, escape="/"))
            )
        else:
            q = q.select_from(Product).where(Product.name_folded.like(like, escape="/"))
            q = q.join(Producer, Producer.id == Product.producer_id) if producer else q
        return _where_rows(q, filters)

    found = union_all(side(False), side(True)).subquery("found")
    if not certificate:
        return select(found.c.id, *([found.c.key] if product_key else []), found.c.rank)
    q = select(
        found.c.id, *([found.c.key if product_key else key.label("key")] if key is not None else []), found.c.rank
    )
    q = q.select_from(found).outerjoin(
        Certification, and_(Certification.product_id == found.c.id, Certification.status == "current")
    )
    return _where_certificate(q, filters)


def count_products(session: Session, filters: dict) -> int:
    """How many products the filters select."""
    producer, certificate = _needs(filters, None)
    product_level = (
        _searching(filters)
        or filters.get("potential_five_star") is not None
        or filters.get("status") is not None
        or any(filters.get(k) is not None for k in PRODUCT_FILTERS)
    )
    if certificate and not producer and not product_level and filters.get("certified") is not False:
        # Only certificate filters: count the current certifications (one per product at most).
        q = _where_certificate(
            select(func.count()).select_from(Certification).where(Certification.status == "current"),
            {**filters, "certified": None},
        )
        return session.scalar(q)
    return session.scalar(select(func.count()).select_from(_matches(filters, None).subquery()))


def _ordered(sort: str):
    return (lambda column: column.desc()) if sort.startswith("-") else (lambda column: column.asc())


def _page_rows(
    filters: dict,
    sort: str,
    offset: int | None = None,
    limit: int | None = None,
    with_total: bool = False,
    few: bool = False,
):
    """The list items of one page (all of them without a limit), in order.

    A search ranks first (product-name matches, then producer-name ones), then sorts; its rows say
    why they matched (``matched``).

    ``few``: the filters select few products (at most ``FEW``), so they are all read first and
    then sorted. Otherwise PostgreSQL may walk the index of the sort column and test each product
    against the filters until the page is full, which is quick when the matches are many but reads
    most of the register when they are rare (5★ products sorted by name: 90,000 rows for 50)."""
    direction = _ordered(sort)
    searching = _searching(filters)
    matched = _matches(filters, sort)
    keys = (
        matched.cte("matched").prefix_with("MATERIALIZED", dialect="postgresql") if few else matched.subquery("matched")
    )
    ids = select(keys.c.id, keys.c.key, *([keys.c.rank] if searching else []))
    if with_total:
        ids = ids.add_columns(func.count().over().label("total"))
    if limit is not None:
        ids = ids.order_by(*([keys.c.rank] if searching else []), direction(keys.c.key), keys.c.id)
        ids = ids.offset(offset).limit(limit)
    page = ids.subquery("page")
    columns = [*ITEM_COLUMNS, *([page.c.total] if with_total else [])]
    if searching:
        columns += [page.c.rank, Producer.name_folded.like(_pattern(filters["q"]), escape="/").label("by_producer")]
    return (
        select(*columns)
        .select_from(page)
        .join(Product, Product.id == page.c.id)
        .join(Producer, Producer.id == Product.producer_id)
        .outerjoin(Certification, _current())
        .order_by(*([page.c.rank] if searching else []), direction(page.c.key), page.c.id)
    )


def list_products(session: Session, filters: dict, page: int, per_page: int, sort: str) -> tuple[int, list]:
    """The total of the filtered list and one page of it."""
    offset = (page - 1) * per_page
    if _searching(filters):  # the total comes with the page (the match set is read whole anyway)
        rows = session.execute(_page_rows(filters, sort, offset, per_page, with_total=True)).all()
        if rows:
            return rows[0].total, [_item(row) for row in rows]
        return (count_products(session, filters) if offset else 0), []
    total = count_products(session, filters)
    if offset >= total:
        return total, []
    rows = session.execute(_page_rows(filters, sort, offset, per_page, few=total <= FEW)).all()
    return total, [_item(row) for row in rows]


def _item(row) -> dict:
    values = row._mapping
    item = {column.key: values[column.key] for column in ITEM_COLUMNS}
    if "rank" in values:  # a search: why it matched
        item["matched"] = [
            why for why, hit in zip(MATCHED, (values["rank"] == 0, bool(values["by_producer"])), strict=True) if hit
        ]
    return item


def statistics(session: Session) -> dict:
    """Counts over current certifications: by stars, group, province, region (an old province's
    record in its old region), producer kind and the province as entered (both names where old)."""
    base = (
        select(
            Certification.stars,
            Product.group,
            Product.potential_five_star,
            Producer.id.label("producer"),
            Producer.province,
            Producer.province_entered,
            Producer.region,
            Producer.kind,
        )
        .join(Product, Product.id == Certification.product_id)
        .join(Producer, Producer.id == Product.producer_id)
        .where(Certification.status == "current")
    ).subquery()

    def by(column) -> dict:
        return {
            str(k): n for k, n in session.execute(select(column, func.count()).group_by(column).order_by(column)).all()
        }

    return {
        "certified_products": session.scalar(select(func.count()).select_from(base)),
        "producers": session.scalar(select(func.count(func.distinct(base.c.producer)))),
        "potential_five_star": session.scalar(
            select(func.count()).select_from(base).where(base.c.potential_five_star.is_(True), base.c.stars == 4)
        ),
        "by_stars": by(base.c.stars),
        "by_group": by(base.c.group),
        "by_province": by(base.c.province),
        "by_region": by(base.c.region),
        "by_producer_kind": by(base.c.kind),
        "by_old_province": _by_old_province(session, base),
    }


def _by_old_province(session: Session, base) -> list[dict]:
    """Certified products by current province and the name entered: Bến Tre's apart from Trà Vinh's."""
    counts: dict[tuple[str, str | None], int] = {}
    for province, entered, n in session.execute(
        select(base.c.province, base.c.province_entered, func.count()).group_by(
            base.c.province, base.c.province_entered
        )
    ).all():
        key = (province, reference.old_name(province, entered))
        counts[key] = counts.get(key, 0) + n
    return [
        {
            "province": province,
            "old_province": old,
            "label": reference.province_label(province, old),
            "label_en": reference.province_label(province, old, "en"),
            "certified_products": n,
        }
        for (province, old), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]


EXPORT_COLUMNS = [
    "id",
    "name",
    "name_en",
    "group",
    "potential_five_star",
    "producer_id",
    "producer_name",
    "producer_kind",
    "province",
    "province_entered",
    "region",
    "stars",
    "valid_until",
    "decision_number",
    "certification_status",
]


def export_csv(session: Session, filters: dict, sort: str):
    """CSV lines of the whole filtered list (UTF-8 with a BOM, so spreadsheet programs read the
    diacritics right), produced in chunks rather than held in memory."""
    import io

    from shared import csvsafe

    buffer = io.StringIO()
    # text cells that start like a formula get a quote in front (shared/csvsafe.py)
    writer = csvsafe.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    buffer.write("\ufeff")
    writer.writeheader()
    result = session.execute(_page_rows(filters, sort).execution_options(yield_per=1000))
    for n, row in enumerate(result, start=1):
        writer.writerow(_item(row))
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# ---- one record by its id ------------------------------------------------------------------------
def get_producer(session: Session, producer_id: str, lock: bool = False) -> Producer:
    return _one(session, Producer, producer_id, "producer", "producer_id", lock)


def get_product(session: Session, product_id: str, lock: bool = False) -> Product:
    """``lock``: FOR UPDATE, as a change or a grant takes it (two grants for a product serialise)."""
    return _one(session, Product, product_id, "product", "product_id", lock)


def get_certification(session: Session, cert_id: str) -> Certification:
    return _one(session, Certification, cert_id, "certification", "certification_id", False)


def _one(session: Session, model, key: str, what: str, field: str, lock: bool):
    row = session.get(model, key, with_for_update=True if lock else None)
    if row is None:
        raise NotFound(f"no {what} {key}", field=field)
    return row
