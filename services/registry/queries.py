"""Read side of the registry: filtered, searchable, sorted, paginated lists and programme
statistics. Search folds Vietnamese diacritics and case, so "keo dua" finds "Kẹo dừa"."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from shared.text import fold

from .models import Certification, Producer, Product

SORTS = {
    "name": Product.name_folded,
    "stars": Certification.stars,
    "valid_until": Certification.valid_until,
    "created_at": Product.created_at,
}


def _current():
    """Outer join condition: a product's current certification, if it has one."""
    return and_(Certification.product_id == Product.id, Certification.status == "current")


def product_rows(filters: dict):
    q = (select(Product, Producer, Certification).join(Producer, Producer.id == Product.producer_id)
         .outerjoin(Certification, _current()))
    if filters.get("q"):
        like = f"%{fold(filters['q'])}%"
        q = q.where(or_(Product.name_folded.like(like), Producer.name_folded.like(like)))
    for key, column in (("province", Producer.province), ("region", Producer.region), ("group", Product.group),
                        ("stars", Certification.stars), ("producer_kind", Producer.kind),
                        ("producer_id", Product.producer_id)):
        if filters.get(key) is not None:
            q = q.where(column == filters[key])
    if filters.get("certified") is True:
        q = q.where(Certification.id.is_not(None))
    if filters.get("certified") is False:
        q = q.where(Certification.id.is_(None))
    if filters.get("expiring_before"):
        q = q.where(Certification.valid_until < filters["expiring_before"])
    if filters.get("potential_five_star") is not None:
        q = q.where(Product.potential_five_star.is_(filters["potential_five_star"]))
    return q


def list_products(session: Session, filters: dict, page: int, per_page: int, sort: str) -> tuple[int, list]:
    q = product_rows(filters)
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    column = SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.execute(q.order_by(order, Product.id).offset((page - 1) * per_page).limit(per_page)).all()
    return total, [_item(p, pr, c) for p, pr, c in rows]


def _item(product: Product, producer: Producer, cert: Certification | None) -> dict:
    return {"id": product.id, "name": product.name, "name_en": product.name_en, "group": product.group,
            "potential_five_star": product.potential_five_star, "producer_id": producer.id,
            "producer_name": producer.name, "producer_kind": producer.kind, "province": producer.province,
            "province_entered": producer.province_entered, "region": producer.region,
            "stars": cert.stars if cert else None, "valid_until": cert.valid_until if cert else None,
            "decision_number": cert.decision_number if cert else None,
            "certification_status": cert.status if cert else None}


def statistics(session: Session) -> dict:
    """Counts over current certifications: by stars, group, province, region and producer kind."""
    base = (select(Certification.stars, Product.group, Product.potential_five_star, Producer.id.label("producer"),
                   Producer.province, Producer.region, Producer.kind)
            .join(Product, Product.id == Certification.product_id).join(Producer, Producer.id == Product.producer_id)
            .where(Certification.status == "current")).subquery()

    def by(column) -> dict:
        return {str(k): n for k, n in session.execute(select(column, func.count()).group_by(column)
                                                      .order_by(column)).all()}

    return {
        "certified_products": session.scalar(select(func.count()).select_from(base)),
        "producers": session.scalar(select(func.count(func.distinct(base.c.producer)))),
        "potential_five_star": session.scalar(select(func.count()).select_from(base)
                                              .where(base.c.potential_five_star.is_(True))),
        "by_stars": by(base.c.stars),
        "by_group": by(base.c.group),
        "by_province": by(base.c.province),
        "by_region": by(base.c.region),
        "by_producer_kind": by(base.c.kind),
    }


EXPORT_COLUMNS = ["id", "name", "name_en", "group", "potential_five_star", "producer_id", "producer_name",
                  "producer_kind", "province", "province_entered", "region", "stars", "valid_until",
                  "decision_number", "certification_status"]


def export_csv(session: Session, filters: dict, sort: str):
    """CSV lines of the whole filtered list (UTF-8 with a BOM, so spreadsheet programs read the
    diacritics right), produced in chunks rather than held in memory."""
    import csv
    import io

    column = SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    buffer.write("\ufeff")
    writer.writeheader()
    result = session.execute(product_rows(filters).order_by(order, Product.id).execution_options(yield_per=1000))
    for n, (p, pr, c) in enumerate(result, start=1):
        writer.writerow(_item(p, pr, c))
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
