"""What matching reads from the read model, read fast.

A fair against 200,000 products reads most of them: through SQLAlchemy's result rows that took
three times as long as the same rows from the driver (bench/match.py), and building a
``Candidate`` for each took as long again. So:

- ``rows``: the fair's rules as one SQL filter, applied whole by the database (the rule of
  ``eligibility.failures`` written as SQL: standing, groups and sub-groups, provinces or regions,
  producer kinds; tests/integration/test_eligibility.py holds the two to each other exactly on
  random fairs and catalogues, SQLite and PostgreSQL), returning only what ranking reads, as plain
  tuples (``matching.Row``) straight from the driver on PostgreSQL;
- ``candidates``: the same selection as full ``Candidate`` rows, narrowed to some producers or
  products (a top-up of newly certified products);
- ``details``: full ``Candidate`` rows by product id, for the few hundred picks a ranking builds.
"""

from __future__ import annotations

from sqlalchemy import and_, case, literal, null, or_, select
from sqlalchemy.orm import Session

from shared.db import among

from . import matching
from .models import CertifiedProduct, ProducerView, ProductView

_FULL = (
    CertifiedProduct.product_id,
    CertifiedProduct.product_name,
    CertifiedProduct.producer_id,
    CertifiedProduct.producer_name,
    CertifiedProduct.producer_kind,
    CertifiedProduct.group,
    CertifiedProduct.province,
    CertifiedProduct.region,
    CertifiedProduct.stars,
    CertifiedProduct.valid_until,
    CertifiedProduct.status,
    CertifiedProduct.subgroup,
    CertifiedProduct.potential_five_star,
    CertifiedProduct.provincial_key_product,
)


def fetch(session: Session, stmt) -> list[tuple]:
    """All rows of ``stmt`` as plain tuples: on PostgreSQL through the driver's cursor on the
    session's connection (so in its transaction), elsewhere through SQLAlchemy (SQLite needs its
    type processing for dates). The driver path is PostgreSQL's only, so run by the real mode of the
    tests (.ci/run runs it in CI): tests/integration/test_eligibility.py holds it to the pure rule on
    random fairs and catalogues, test_season.py and test_fairs.py read rankings through it."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return [tuple(row) for row in conn.execute(stmt)]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    with conn.connection.cursor() as cursor:
        cursor.execute(compiled.string, compiled.params)
        return cursor.fetchall()


def _rule_filters(r: matching.Rules, group, subgroup, province, region, kind) -> list:
    """The rules every product faces, certified or not, as SQL conditions (exactly
    ``eligibility.failures``' groups, sub-groups, areas and kinds)."""
    out = []
    admitted = r.admitted_groups()
    if admitted:
        out.append(group.in_(sorted(admitted)))
    own: dict[int, list[str]] = {}
    for code in r.subgroups:
        own.setdefault(int(code.split(".")[0]), []).append(code)
    for g, codes in sorted(own.items()):  # a group with sub-groups listed admits only those
        out.append(or_(group != g, subgroup.in_(codes)))
    if r.provinces or r.regions:
        out.append(or_(province.in_(r.provinces), region.in_(r.regions)))
    if r.producer_kinds:
        out.append(kind.in_(r.producer_kinds))
    return out


def certified_filter(t: matching.FairTerms) -> list:
    """A certified product's standing (``eligibility.standing``, or a provincial key product's
    designation at a fair that admits those) and the other rules, as SQL conditions."""
    cp, r = CertifiedProduct, t.rules
    by_certificate = [
        cp.status == "current",
        cp.stars >= r.min_stars,
        cp.valid_until >= (t.ends_on if r.valid_through_end else t.starts_on),
    ]
    if r.admit_provincial_key:
        by_certificate = [or_(and_(*by_certificate), and_(cp.provincial_key_product.is_(True), cp.status != "revoked"))]
    return [*by_certificate, *_rule_filters(r, cp.group, cp.subgroup, cp.province, cp.region, cp.producer_kind)]


def _uncertified_query(r: matching.Rules, *columns):
    """Products never certified (no row in certified_products), with their producer."""
    p, pr, cp = ProductView, ProducerView, CertifiedProduct
    return (
        select(*columns)
        .join(pr, pr.producer_id == p.producer_id)
        .outerjoin(cp, cp.product_id == p.product_id)
        .where(cp.product_id.is_(None), *_rule_filters(r, p.group, p.subgroup, pr.province, pr.region, pr.kind))
    )


def _admitted_uncertified(r: matching.Rules, *columns):
    """The fair's products never certified: all of them when it admits potential OCOP, the
    provincial key products when it admits those; None when it admits neither."""
    if r.admit_uncertified:
        return _uncertified_query(r, *columns)
    if r.admit_provincial_key:
        return _uncertified_query(r, *columns).where(ProductView.provincial_key_product.is_(True))
    return None


def _narrowed(session: Session, q, producer, product, producer_ids, product_ids):
    if producer_ids is not None:
        q = q.where(among(session, producer, producer_ids))
    if product_ids is not None:
        q = q.where(among(session, product, product_ids))
    return q


def rows(session: Session, t: matching.FairTerms, producer_ids: list[str] | None = None) -> list[matching.Row]:
    """Every product the fair admits, as ranking rows (producer, product, group, region, stars,
    valid until: as ``matching.row_of``); ``producer_ids`` narrows to those producers."""
    cp, p, pr = CertifiedProduct, ProductView, ProducerView
    stars, valid_until = cp.stars, cp.valid_until
    if t.rules.admit_provincial_key:  # a key product admitted without a current certificate scores none
        stars = case((cp.status == "current", cp.stars), else_=literal(0))
        valid_until = case((cp.status == "current", cp.valid_until), else_=null())
    q = select(cp.producer_id, cp.product_id, cp.group, cp.region, stars, valid_until).where(*certified_filter(t))
    out = fetch(session, _narrowed(session, q, cp.producer_id, cp.product_id, producer_ids, None))
    u = _admitted_uncertified(t.rules, p.producer_id, p.product_id, p.group, pr.region, literal(0), null())
    if u is not None:
        out += fetch(session, _narrowed(session, u, p.producer_id, p.product_id, producer_ids, None))
    return out


_UNCERTIFIED = (
    ProductView.product_id,
    ProductView.name,
    ProductView.producer_id,
    ProducerView.name,
    ProducerView.kind,
    ProductView.group,
    ProducerView.province,
    ProducerView.region,
    ProductView.subgroup,
    ProductView.potential_five_star,
    ProductView.provincial_key_product,
)


def _uncertified_candidates(session: Session, q) -> list[matching.Candidate]:
    return [
        matching.Candidate(
            pid,
            name,
            producer,
            producer_name,
            kind,
            group,
            province,
            region,
            0,
            None,
            "uncertified",
            subgroup,
            potential,
            key,
        )
        for pid, name, producer, producer_name, kind, group, province, region, subgroup, potential, key in fetch(
            session, q
        )
    ]


def candidates(
    session: Session, t: matching.FairTerms, producer_ids: list[str] | None = None, product_ids: list[str] | None = None
) -> list[matching.Candidate]:
    """Every product the fair admits as a full ``Candidate`` (the same selection as ``rows``),
    narrowed to some producers and/or products."""
    out = [
        matching.Candidate(*row)
        for row in fetch(
            session,
            _narrowed(
                session,
                select(*_FULL).where(*certified_filter(t)),
                CertifiedProduct.producer_id,
                CertifiedProduct.product_id,
                producer_ids,
                product_ids,
            ),
        )
    ]
    u = _admitted_uncertified(t.rules, *_UNCERTIFIED)
    if u is not None:
        out += _uncertified_candidates(
            session, _narrowed(session, u, ProductView.producer_id, ProductView.product_id, producer_ids, product_ids)
        )
    return out


SCAN_ABOVE = 10_000  # more products than this: one scan of the fair's rows beats looking each up


def details(session: Session, t: matching.FairTerms | None = None):
    """``matching.Details`` on this session: full candidates by product id, certified or not.
    With the fair's terms, a request for many products (reading a whole ranking) scans the
    fair's eligible rows once instead of looking each up."""

    def load(product_ids: list[str]) -> dict[str, matching.Candidate]:
        found: dict[str, matching.Candidate] = {}
        if t is not None and len(product_ids) > SCAN_ABOVE:
            wanted = set(product_ids)
            for row in fetch(session, select(*_FULL).where(*certified_filter(t))):
                if row[0] in wanted:
                    found[row[0]] = matching.Candidate(*row)
            product_ids = [i for i in product_ids if i not in found]
        for start in range(0, len(product_ids), 5000):
            ids = product_ids[start : start + 5000]
            for row in fetch(session, select(*_FULL).where(among(session, CertifiedProduct.product_id, ids))):
                found[row[0]] = matching.Candidate(*row)
            rest = [i for i in ids if i not in found]
            if rest:
                u = _uncertified_query(matching.Rules(), *_UNCERTIFIED)
                for c in _uncertified_candidates(session, u.where(among(session, ProductView.product_id, rest))):
                    found[c.product_id] = c
        return found

    return load


def ranking(
    session: Session, t: matching.FairTerms, history: dict[str, matching.History], busy: dict[str, str]
) -> matching.Ranking:
    return matching.rank_rows(rows(session, t), t, history, busy, details(session, t))
