"""Registering and updating producers and products: their fields, codes and events."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict, Invalid
from shared.text import fold, nfc

from . import domain
from .models import Certification, Producer, Product
from .queries import get_producer, get_product


def _domain(fn, *args):
    try:
        return fn(*args)
    except domain.DomainError as exc:
        raise Invalid(exc.message, field=exc.field) from exc


CODE_MAX = Producer.code.type.length
FOLDED_MAX = Producer.name_folded.type.length


def folded(name: str) -> str:
    """The search key, cut to its column: folding expands some scripts (a Hangul syllable is 2-3 jamo)."""
    return fold(name)[:FOLDED_MAX]


def producer_event(p: Producer) -> dict:
    return {
        "producer_id": p.id,
        "code": p.code,
        "name": p.name,
        "kind": p.kind,
        "province": p.province,
        "province_entered": p.province_entered,
        "region": p.region,
        "email": p.email,
        "phone": p.phone,
        "preferred_language": p.preferred_language,
        "consent": {"email": bool(p.consent.get("email")), "sms": bool(p.consent.get("sms"))},
    }


def producer_code(entered: str) -> str:
    """A business or tax code as stored: NFC, trimmed, upper-case."""
    code = nfc(entered).upper()
    if len(code) > CODE_MAX:  # "ß".upper() is "SS": the schema counted the code before normalising
        raise Invalid(f"is longer than {CODE_MAX} characters once normalised", field="code")
    return code


def producer_fields(data: dict) -> dict:
    """A new producer's columns from input loaded by ProducerIn: the code normalised, the province
    resolved (an old name keeps its name for display). Shared by the API and the bulk import."""
    province = _domain(domain.resolve_province, data["province"])
    name = nfc(data["name"])
    return {
        "code": producer_code(data["code"]),
        "name": name,
        "name_folded": folded(name),
        "kind": data["kind"],
        "address": data.get("address"),
        "province": province.name,
        "province_entered": province.entered_as,
        "region": province.region,
        "representative": data.get("representative"),
        "email": data.get("email"),
        "phone": data.get("phone"),
        "preferred_language": data["preferred_language"],
        "consent": dict(data["consent"]),
    }


def register_producer(session: Session, emit, data: dict) -> Producer:
    fields = producer_fields(data)
    code = fields["code"]
    if session.scalar(select(Producer.id).where(Producer.code == code)):
        raise Conflict(f"a producer with code {code} already exists", field="code")
    producer = Producer(**fields, version=1)
    try:
        # A concurrent request may have taken the code since the check (PostgreSQL runs them at once).
        with session.begin_nested():
            session.add(producer)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a producer with code {code} already exists", field="code") from exc
    emit(session, "registry.producer.registered", producer.id, producer.version, producer_event(producer))
    return producer


def _snapshot(row) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def update_producer(session: Session, emit, producer_id: str, changes: dict) -> Producer:
    """Change a producer's details (not its code); emits the full new state when anything changed."""
    producer = get_producer(session, producer_id, lock=True)
    before = _snapshot(producer)
    if "province" in changes:
        province = _domain(domain.resolve_province, changes.pop("province"))
        producer.province, producer.province_entered, producer.region = (
            province.name,
            province.entered_as,
            province.region,
        )
    if "name" in changes:
        producer.name = nfc(changes.pop("name"))
        producer.name_folded = folded(producer.name)
    if "consent" in changes:
        producer.consent = {**producer.consent, **changes.pop("consent")}
    for key, value in changes.items():
        setattr(producer, key, value)
    if _snapshot(producer) == before:
        return producer  # nothing changed: no new version, no event
    producer.version += 1
    session.flush()
    copy = producer_copy(producer)
    if any(before[key if key != "producer_kind" else "kind"] != value for key, value in copy.items()):
        session.execute(update(Product).where(Product.producer_id == producer.id).values(**copy))
    emit(session, "registry.producer.updated", producer.id, producer.version, producer_event(producer))
    return producer


def _grouping(group: int, subgroup: str | None) -> str | None:
    """Group and sub-group checked against the criteria in force today; the sub-group's code."""
    return _domain(_subgroup_code, date.today(), group, subgroup)


@lru_cache(maxsize=4096)
def _subgroup_code(day: date, group: int, subgroup: str | None) -> str | None:
    # Pure (the criteria are loaded once), and a bulk import asks the same few questions many times.
    return domain.check_group(domain.criteria_on(day, field="group"), group, subgroup)


def product_fields(data: dict) -> dict:
    """A new product's columns (without its producer) from input loaded by ProductIn: group and
    sub-group checked, the sub-group stored as its code. Shared by the API and the bulk import."""
    subgroup = _grouping(data["group"], data.get("subgroup"))
    name = nfc(data["name"])
    return {
        "name": name,
        "name_folded": folded(name),
        "name_en": data.get("name_en"),
        "group": data["group"],
        "subgroup": subgroup,
        "description": data.get("description"),
        "potential_five_star": data["potential_five_star"],
        "provincial_key_product": data.get("provincial_key_product", False),
    }


def register_product(session: Session, emit, data: dict) -> Product:
    fields = product_fields(data)
    # A product is recorded before it is certified: it cannot yet be proposed for 5★.
    _domain(domain.check_potential_five_star, fields["potential_five_star"], None)
    producer = get_producer(session, data["producer_id"])
    product = Product(producer_id=producer.id, **fields, **producer_copy(producer), version=1)
    session.add(product)
    session.flush()
    emit(session, "registry.product.registered", product.id, product.version, product_event(product))
    return product


def producer_copy(producer) -> dict:
    """What a product keeps of its producer for the list filters."""
    return {"province": producer.province, "region": producer.region, "producer_kind": producer.kind}


def product_event(p: Product) -> dict:
    return {
        "product_id": p.id,
        "producer_id": p.producer_id,
        "name": p.name,
        "name_en": p.name_en,
        "group": p.group,
        "subgroup": p.subgroup,
        "potential_five_star": p.potential_five_star,
        "provincial_key_product": p.provincial_key_product,
    }


def update_product(session: Session, emit, product_id: str, changes: dict) -> Product:
    """Change a product's details (not its producer); emits the full new state when anything changed."""
    product = get_product(session, product_id, lock=True)
    before = _snapshot(product)
    if "group" in changes or "subgroup" in changes:
        group = changes.pop("group", product.group)
        subgroup = changes.pop("subgroup") if "subgroup" in changes else product.subgroup
        product.subgroup, product.group = _grouping(group, subgroup), group
    if changes.get("potential_five_star") and not product.potential_five_star:
        current = current_certification(session, product.id)
        _domain(domain.check_potential_five_star, True, current.stars if current is not None else None)
    if "name" in changes:
        product.name = nfc(changes.pop("name"))
        product.name_folded = folded(product.name)
    for key, value in changes.items():
        setattr(product, key, value)
    if _snapshot(product) == before:
        return product
    product.version += 1
    session.flush()
    emit(session, "registry.product.updated", product.id, product.version, product_event(product))
    return product


def current_certification(session: Session, product_id: str) -> Certification | None:
    return session.scalar(
        select(Certification).where(Certification.product_id == product_id, Certification.status == "current")
    )
