"""What matching reads from the read model, read fast.

A fair against 200,000 products reads most of them: through SQLAlchemy's result rows that took
three times as long as the same rows from the driver (bench/match.py), and building a
``Candidate`` for each took as long again. So:

- ``rows``: the fair's rules as one SQL filter, applied whole by the database (status, stars,
  validity, groups and sub-groups, provinces or regions, producer kinds; a test holds it to
  ``matching.failures`` on the same rows), returning only what ranking reads, as plain tuples
  (``matching.Row``) straight from the driver on PostgreSQL;
- ``details``: full ``Candidate`` rows by product id, for the few hundred picks a ranking builds.
"""

from __future__ import annotations

from sqlalchemy import String, any_, bindparam, literal, null, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from . import matching
from .models import CertifiedProduct, ProducerView, ProductView

_FULL = (CertifiedProduct.product_id, CertifiedProduct.product_name, CertifiedProduct.producer_id,
         CertifiedProduct.producer_name, CertifiedProduct.producer_kind, CertifiedProduct.group,
         CertifiedProduct.province, CertifiedProduct.region, CertifiedProduct.stars, CertifiedProduct.valid_until,
         CertifiedProduct.status, CertifiedProduct.subgroup, CertifiedProduct.potential_five_star)


def fetch(session: Session, stmt) -> list[tuple]:
    """All rows of ``stmt`` as plain tuples: on PostgreSQL through the driver's cursor on the
    session's connection (so in its transaction), elsewhere through SQLAlchemy (SQLite needs its
    type processing for dates)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return [tuple(row) for row in conn.execute(stmt)]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    with conn.connection.cursor() as cursor:
        cursor.execute(compiled.string, compiled.params)
        return cursor.fetchall()


def _among(session: Session, column, values: list[str]):
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter however many values
    (thousands of bound parameters cost more to render and parse than the query to run)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(f"{column.key}_values", list(values), type_=ARRAY(String)))
    return column.in_(values)


def _rule_filters(r: matching.Rules, group, subgroup, province, region, kind) -> list:
    """The rules every product faces, certified or not, as SQL conditions (exactly
    ``matching.failures``' groups, sub-groups, areas and kinds)."""
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
    cp, r = CertifiedProduct, t.rules
    return [cp.status == "current", cp.stars >= r.min_stars,
            cp.valid_until >= (t.ends_on if r.valid_through_end else t.starts_on),
            *_rule_filters(r, cp.group, cp.subgroup, cp.province, cp.region, cp.producer_kind)]


def _uncertified_query(r: matching.Rules, *columns):
    """Products never certified (no row in certified_products), with their producer."""
    p, pr, cp = ProductView, ProducerView, CertifiedProduct
    return (select(*columns).join(pr, pr.producer_id == p.producer_id)
            .outerjoin(cp, cp.product_id == p.product_id)
            .where(cp.product_id.is_(None), *_rule_filters(r, p.group, p.subgroup, pr.province, pr.region, pr.kind)))


def rows(session: Session, t: matching.FairTerms, producer_ids: list[str] | None = None) -> list[matching.Row]:
    """Every product the fair admits, as ranking rows (producer, product, group, region, stars,
    valid until); ``producer_ids`` narrows to those producers."""
    cp, p, pr = CertifiedProduct, ProductView, ProducerView
    q = select(cp.producer_id, cp.product_id, cp.group, cp.region, cp.stars, cp.valid_until) \
        .where(*certified_filter(t))
    if producer_ids is not None:
        q = q.where(_among(session, cp.producer_id, producer_ids))
    out = fetch(session, q)
    if t.rules.admit_uncertified:
        u = _uncertified_query(t.rules, p.producer_id, p.product_id, p.group, pr.region, literal(0), null())
        if producer_ids is not None:
            u = u.where(_among(session, p.producer_id, producer_ids))
        out += fetch(session, u)
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
            ids = product_ids[start:start + 5000]
            for row in fetch(session, select(*_FULL).where(_among(session, CertifiedProduct.product_id, ids))):
                found[row[0]] = matching.Candidate(*row)
            rest = [i for i in ids if i not in found]
            if rest:
                p, pr = ProductView, ProducerView
                u = _uncertified_query(matching.Rules(), p.product_id, p.name, p.producer_id, pr.name, pr.kind,
                                       p.group, pr.province, pr.region, p.subgroup, p.potential_five_star)
                for pid, name, producer, producer_name, kind, group, province, region, subgroup, potential \
                        in fetch(session, u.where(_among(session, p.product_id, rest))):
                    found[pid] = matching.Candidate(pid, name, producer, producer_name, kind, group, province, region,
                                                    0, None, "uncertified", subgroup, potential)
        return found

    return load


def ranking(session: Session, t: matching.FairTerms, history: dict[str, matching.History],
            busy: dict[str, str]) -> matching.Ranking:
    return matching.rank_rows(rows(session, t), t, history, busy, details(session, t))

