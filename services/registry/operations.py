"""State changes of the registry. Each takes an open session, flushes, emits its events into
the outbox of the same transaction, and never commits: the caller's boundary does."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict, Invalid
from shared.text import fold, nfc

from . import decisions, domain
from .models import Certification, Producer, Product
from .queries import get_certification, get_producer, get_product


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


def grant_certification(session: Session, emit, data: dict, today: date, actor: str = "system") -> Certification:
    """Record one certificate of a decision (found by authority, number and date, or recorded now)."""
    # Lock the product row: two concurrent grants for one product serialise here.
    product = get_product(session, data["product_id"], lock=True)
    found = decisions.find(session, data["issued_by"], data["decision_number"], data["decision_date"])
    level = data.get("level") or (found.level if found is not None else "province")
    fields = certification_fields({**data, "level": level}, today)
    current = current_certification(session, product.id)
    check_replaces(fields, current.stars if current is not None else None)
    decision = decisions.attach(session, decision_spec(fields), actor)
    if current is not None:
        # A re-certification or an upgrade replaces the current certification: one current at a time.
        current.status = "superseded"
    cert = Certification(product_id=product.id, decision_id=decision.id, **fields)
    session.add(cert)
    flagged = product.potential_five_star
    product.potential_five_star = domain.potential_after(flagged, cert.stars, cert.proposed_for_national)
    product.version += 1
    session.flush()
    producer = session.get(Producer, product.producer_id)
    emit(
        session,
        CERTIFICATION_EVENT[cert.kind],
        product.id,
        product.version,
        certification_event(
            cert, product, producer, replaces=current.id if current is not None else None, decision=decision
        ),
    )
    if product.potential_five_star != flagged:  # the product's own state changed too: its read models follow
        product.version += 1
        session.flush()
        emit(session, "registry.product.updated", product.id, product.version, product_event(product))
    return cert


def decision_spec(fields: dict) -> dict:
    """The decision a certificate's columns name."""
    return {
        "issued_by": fields["issued_by"],
        "number": fields["decision_number"],
        "decision_date": fields["decision_date"],
        "kind": domain.DECISION_KIND_OF[fields["kind"]],
        "level": fields["level"],
        "criteria_version": fields["criteria_version"],
    }


def certification_fields(data: dict, today: date) -> dict:
    """A certification's columns from input loaded by CertificationIn: decision date not in the
    future, the criteria version of that date, stars derived from the score and the decision's
    level (only the national level certifies 5★; a provincial 90+ is 4★ proposed for national
    evaluation; a claim must agree), score parts within that version's maxima, 36 months of
    validity. Shared by the API and the bulk import."""
    _domain(domain.check_decision_date, data["decision_date"], today)
    version = _domain(domain.criteria_for_decision, data.get("criteria_version"), data["decision_date"])
    level = data.get("level") or "province"
    grant = _domain(domain.grant_for, version.code, data["score"], data.get("stars"), level, data["decision_date"])
    parts = data.get("score_parts")
    _domain(domain.check_score_parts, version, parts, data["score"])
    return {
        "kind": data["kind"],
        "criteria_version": version.code,
        "score": data["score"],
        "score_parts": parts,
        "stars": grant.stars,
        "level": level,
        "proposed_for_national": grant.proposed_for_national,
        "issued_by": nfc(data["issued_by"]),
        "decision_number": nfc(data["decision_number"]),
        "decision_date": data["decision_date"],
        "valid_until": domain.valid_until(data["decision_date"]),
    }


def check_replaces(fields: dict, current_stars: int | None) -> None:
    """One current certification per product: a new one only without a current one; an upgrade
    must raise the stars of the current one."""
    if fields["kind"] == "new" and current_stars is not None:
        raise Conflict("the product already has a current certification", field="product_id")
    if fields["kind"] == "upgrade" and current_stars is not None and fields["stars"] <= current_stars:
        raise Invalid(
            f"an upgrade must raise the stars; score {fields['score']} is {fields['stars']}★ and the "
            f"product already holds {current_stars}★",
            field="score",
        )


# The event of each kind of evaluation: granted (new), renewed (tái chứng nhận), upgraded (nâng sao).
CERTIFICATION_EVENT = {
    "new": "registry.certification.granted",
    "recertification": "registry.certification.renewed",
    "upgrade": "registry.certification.upgraded",
}


def certification_event(
    cert: Certification, product: Product, producer: Producer, replaces: str | None = None, decision=None
) -> dict:
    return {
        "certification_id": cert.id,
        "product_id": product.id,
        "product_name": product.name,
        "group": product.group,
        "subgroup": product.subgroup,
        "replaces_certification_id": replaces,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "producer_kind": producer.kind,
        "province": producer.province,
        "province_entered": producer.province_entered,
        "region": producer.region,
        "stars": cert.stars,
        "score": cert.score,
        "kind": cert.kind,
        "issued_by": cert.issued_by,
        "decision_number": cert.decision_number,
        "decision_date": cert.decision_date,
        "valid_until": cert.valid_until,
        "potential_five_star": product.potential_five_star,
        "level": cert.level,
        "proposed_for_national_evaluation": bool(cert.proposed_for_national),
        "decision": decisions.ref(decision) if decision is not None else None,
    }


def _ref(cert: Certification, product: Product, producer: Producer) -> dict:
    return {
        "certification_id": cert.id,
        "product_id": product.id,
        "product_name": product.name,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "valid_until": cert.valid_until,
    }


def revoke_certification(
    session: Session, emit, cert_id: str, data: dict, today: date, actor: str = "system"
) -> Certification:
    """Thu hồi: a decision ends a current certification, with its reason (words, and a code when
    given); the revoke decision is recorded (found by authority, number and date, or created)."""
    cert = get_certification(session, cert_id)
    product = session.get(Product, cert.product_id, with_for_update=True)
    session.refresh(cert)
    if cert.status != "current":
        raise Conflict(
            f"only a current certification can be revoked; this one is {cert.status}", field="certification_id"
        )
    _domain(domain.check_decision_date, data["decision_date"], today)
    if data["decision_date"] < cert.decision_date:
        raise Invalid("is before the certification's own decision date", field="decision_date")
    decision = decisions.attach(
        session,
        {
            "issued_by": data.get("issued_by") or cert.issued_by,
            "number": data["decision_number"],
            "decision_date": data["decision_date"],
            "kind": "revoke",
            "level": data.get("level"),
            "reason_code": data.get("reason_code"),
            "reason": data.get("reason"),
        },
        actor,
    )
    revoke(session, emit, cert, product, decision, data.get("reason_code"), data.get("reason"))
    return cert


def revoke(
    session: Session, emit, cert: Certification, product: Product, decision, reason_code: str | None, reason: str | None
) -> None:
    """End one current certificate by a revoke decision (its product row locked by the caller):
    one registry.certification.revoked event, and the product's "potential 5★" flag cleared."""
    cert.status = "revoked"
    cert.revoked_reason = nfc(reason) if reason else domain.REVOCATION_REASONS[reason_code]
    cert.revocation_reason_code = reason_code
    cert.revocation_decision_number = decision.number
    cert.revocation_decision_date = decision.decision_date
    cert.revocation_decision_id = decision.id
    product.version += 1
    session.flush()
    producer = session.get(Producer, product.producer_id)
    emit(
        session,
        "registry.certification.revoked",
        product.id,
        product.version,
        {
            **_ref(cert, product, producer),
            "reason": cert.revoked_reason,
            "reason_code": reason_code,
            "decision_number": cert.revocation_decision_number,
            "decision_date": cert.revocation_decision_date,
            "decision": decisions.ref(decision),
        },
    )
    _clear_potential(session, emit, product)


def _clear_potential(session: Session, emit, product: Product) -> None:
    """A product without a current 4★ certification is no longer "potential 5★" (README)."""
    if product.potential_five_star:
        product.potential_five_star = False
        product.version += 1
        session.flush()
        emit(session, "registry.product.updated", product.id, product.version, product_event(product))


NOTICE_DAYS = 30


def sweep(session: Session, emit, today: date, now: datetime) -> dict:
    """The daily sweep; idempotent. Marks current certificates past their validity expired, and
    announces once each certificate expiring within 30 days (the legal notice to the producer)."""
    expired = 0
    for cert in session.scalars(
        select(Certification)
        .where(Certification.status == "current", Certification.valid_until < today)
        .with_for_update(skip_locked=True)
    ):
        product = session.get(Product, cert.product_id, with_for_update=True)
        cert.status = "expired"
        product.version += 1
        session.flush()
        emit(
            session,
            "registry.certification.expired",
            product.id,
            product.version,
            _ref(cert, product, session.get(Producer, product.producer_id)),
        )
        _clear_potential(session, emit, product)
        expired += 1
    announced = 0
    horizon = today + timedelta(days=NOTICE_DAYS)
    for cert in session.scalars(
        select(Certification)
        .where(
            Certification.status == "current",
            Certification.valid_until <= horizon,
            Certification.expiring_announced_at.is_(None),
        )
        .with_for_update(skip_locked=True)
    ):
        product = session.get(Product, cert.product_id)
        cert.expiring_announced_at = now
        session.flush()
        emit(
            session,
            "registry.certification.expiring",
            product.id,
            product.version,
            {
                **_ref(cert, product, session.get(Producer, product.producer_id)),
                "days_left": (cert.valid_until - today).days,
            },
        )
        announced += 1
    return {"expired": expired, "expiring_announced": announced}
