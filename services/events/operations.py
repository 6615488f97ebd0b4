"""State changes of the events service. Flush, emit into the outbox, never commit."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.text import nfc

from . import domain
from .models import CertifiedProduct, Fair, Invitation


def aware(dt: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _rule(fn, *args):
    try:
        return fn(*args)
    except domain.RuleError as exc:
        raise Invalid(exc.message, field=exc.field) from exc


# ---- read model -----------------------------------------------------------------------------
def apply_certification(session: Session, envelope: dict, data: dict) -> bool:
    """Upsert the product's row only when the event is newer than what we hold.

    One statement: ``INSERT ... ON CONFLICT (product_id) DO UPDATE ... WHERE the stored
    source_version < the event's``. The database locks the product's row (as ``SELECT ... FOR
    UPDATE`` did, so concurrent consumers still serialise per product) and compares the versions
    itself; a stale or replayed event changes nothing and returns False. It replaced a locking
    SELECT plus an ORM INSERT or UPDATE: two round trips and the ORM's load and flush for every
    event of the events service's busiest handler (see bench/pipeline.py).
    """
    values = _certification_values(envelope, data)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # On the DBAPI cursor of the session's connection (so in its transaction): SQLAlchemy's
        # execution layer took more CPU than psycopg and the round trip together. psycopg
        # adapts these values (str, int, date, aware datetime) natively.
        with conn.connection.cursor() as cursor:
            cursor.execute(_UPSERT_PG, values)
            return cursor.fetchone() is not None
    return conn.execute(_UPSERT, values).first() is not None  # SQLite: its types' bind processing


def _certification_values(envelope: dict, data: dict) -> dict:
    return {"product_id": data["product_id"], "product_name": data["product_name"],
              "producer_id": data["producer_id"], "producer_name": data["producer_name"],
              "producer_kind": data["producer_kind"], "group": data["group"], "province": data["province"],
              "region": data["region"], "stars": data["stars"], "certification_id": data["certification_id"],
              "valid_until": data["valid_until"], "status": "current", "source_version": envelope["subject_version"],
              "updated_at": datetime.now(UTC)}


def apply_certifications(session: Session, batch: list[tuple[dict, dict]]) -> None:
    """``apply_certification`` for a batch of events, in order, in one round trip on PostgreSQL
    (psycopg pipelines ``executemany``). Same statement, so the same stale-version rule."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        for envelope, data in batch:
            apply_certification(session, envelope, data)
        return
    with conn.connection.cursor() as cursor:
        cursor.executemany(_UPSERT_PG, [_certification_values(envelope, data) for envelope, data in batch])


def _certification_upsert(param) -> str:
    """The upsert's SQL, which PostgreSQL and SQLite both accept, with ``param(name)`` for the
    placeholders. Text: SQLAlchemy 2.0 does not cache the dialects' ``on_conflict_do_update``
    statements and compiled one anew for every event."""
    table = CertifiedProduct.__table__
    names = [c.name for c in table.c]
    quoted = {n: f'"{n}"' for n in names}  # "group" is a reserved word
    return (f"INSERT INTO {table.name} ({', '.join(quoted.values())}) "
            f"VALUES ({', '.join(param(n) for n in names)}) ON CONFLICT (product_id) DO UPDATE SET "
            + ", ".join(f"{quoted[n]} = excluded.{quoted[n]}" for n in names if n != "product_id")
            + f" WHERE {table.name}.source_version < excluded.source_version RETURNING product_id")


def _typed_upsert():
    from sqlalchemy import bindparam, text

    return text(_certification_upsert(lambda n: f":{n}")).bindparams(
        *[bindparam(c.name, type_=c.type) for c in CertifiedProduct.__table__.c])


_UPSERT_PG = _certification_upsert(lambda n: f"%({n})s")
_UPSERT = _typed_upsert()


def apply_product_updated(session: Session, envelope: dict, data: dict) -> bool:
    """A renamed or regrouped product: the read model follows (newer versions only)."""
    row = session.get(CertifiedProduct, data["product_id"], with_for_update=True)
    if row is None or row.source_version >= envelope["subject_version"]:
        return False
    row.product_name, row.group, row.source_version = data["name"], data["group"], envelope["subject_version"]
    session.flush()
    return True


def apply_certification_ended(session: Session, envelope: dict, data: dict) -> bool:
    """A revoked or expired certificate takes the product out of matching (newer versions only)."""
    status = "revoked" if envelope["type"].endswith(".revoked") else "expired"
    row = session.get(CertifiedProduct, data["product_id"], with_for_update=True)
    if row is None or row.source_version >= envelope["subject_version"] \
            or row.certification_id != data["certification_id"]:
        return False
    row.status = status
    row.source_version = envelope["subject_version"]
    session.flush()
    return True


# ---- fairs ----------------------------------------------------------------------------------
def create_fair(session: Session, data: dict) -> Fair:
    _rule(domain.check_dates, data["starts_on"], data["ends_on"], data["invitation_deadline"])
    # Stored in UTC: SQLite keeps no offset, so 23:00+07:00 would come back as 23:00 UTC.
    try:
        deadline = data["invitation_deadline"].astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise Invalid("is out of range", field="invitation_deadline") from None
    fair = Fair(name=nfc(data["name"]), kind=data["kind"], organiser=nfc(data["organiser"]),
                host_province=nfc(data["host_province"]), region=data["region"], venue=nfc(data["venue"]),
                starts_on=data["starts_on"], ends_on=data["ends_on"], capacity=data["capacity"],
                invitation_deadline=deadline, subsidy_per_booth=data["subsidy_per_booth"],
                rules=data["rules"], status="draft", version=1, booths_assigned=0)
    session.add(fair)
    session.flush()
    return fair


def get_fair(session: Session, fair_id: str, lock: bool = False) -> Fair:
    fair = session.get(Fair, fair_id, with_for_update=lock)
    if fair is None:
        raise NotFound(f"no fair {fair_id}", field="fair_id")
    return fair


def list_fairs(session: Session) -> list[Fair]:
    return list(session.scalars(select(Fair).order_by(Fair.starts_on, Fair.name)))


def fair_summary(fair: Fair) -> dict:
    return {"fair_id": fair.id, "name": fair.name, "kind": fair.kind, "venue": fair.venue,
            "host_province": fair.host_province, "region": fair.region, "starts_on": fair.starts_on,
            "ends_on": fair.ends_on, "subsidy_per_booth": fair.subsidy_per_booth}


def _transition(session: Session, emit, fair: Fair, target: str) -> None:
    _rule(domain.check_transition, fair.status, target)
    fair.status = target
    fair.version += 1
    session.flush()


def rules_of(fair: Fair) -> domain.Rules:
    r = fair.rules or {}
    return domain.Rules(min_stars=r.get("min_stars", 3), groups=tuple(r.get("groups", ())),
                        regions=tuple(r.get("regions", ())), provinces=tuple(r.get("provinces", ())),
                        producer_kinds=tuple(r.get("producer_kinds", ())),
                        max_products_per_producer=r.get("max_products_per_producer", 3))


def candidates(session: Session, rules: domain.Rules) -> list[domain.Candidate]:
    q = select(CertifiedProduct).where(CertifiedProduct.status == "current", CertifiedProduct.stars >= rules.min_stars)
    return [domain.Candidate(p.product_id, p.product_name, p.producer_id, p.producer_name, p.producer_kind, p.group,
                             p.province, p.region, p.stars, p.valid_until, p.status)
            for p in session.scalars(q)]


def preview(session: Session, fair: Fair) -> list[domain.Pick]:
    return domain.match(candidates(session, rules_of(fair)), rules_of(fair), fair.ends_on)


def publish_fair(session: Session, emit, fair_id: str) -> Fair:
    """draft → published → inviting: match, invite the top ``capacity`` producers, waitlist the rest."""
    fair = get_fair(session, fair_id, lock=True)
    _transition(session, emit, fair, "published")
    emit(session, "events.fair.published", fair.id, fair.version,
         {**fair_summary(fair), "capacity": fair.capacity, "min_stars": rules_of(fair).min_stars,
          "invitation_deadline": aware(fair.invitation_deadline)})
    for rank, pick in enumerate(preview(session, fair), start=1):
        status = "issued" if rank <= fair.capacity else "waitlisted"
        inv = Invitation(fair_id=fair.id, producer_id=pick.producer_id, status=status, rank=rank, score=pick.score,
                         score_parts=pick.parts, reasons=pick.reasons, deadline=fair.invitation_deadline, version=1,
                         products=[{"product_id": c.product_id, "name": c.product_name, "stars": c.stars}
                                   for c in pick.products])
        session.add(inv)
        session.flush()
        if status == "issued":
            _emit_issued(session, emit, inv, fair)
    _transition(session, emit, fair, "inviting")
    return fair


def _emit_issued(session, emit, inv: Invitation, fair: Fair) -> None:
    emit(session, "events.invitation.issued", inv.id, inv.version,
         {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair": fair_summary(fair),
          "products": inv.products, "deadline": aware(inv.deadline), "score": inv.score, "reasons": inv.reasons})


def get_invitation(session: Session, invitation_id: str, lock: bool = False) -> Invitation:
    inv = session.get(Invitation, invitation_id, with_for_update=lock)
    if inv is None:
        raise NotFound(f"no invitation {invitation_id}", field="invitation_id")
    return inv


def answer_invitation(session: Session, emit, invitation_id: str, producer_id: str, answer: str,
                      note: str | None, answered_at: datetime) -> Invitation:
    """Apply a producer's answer. Raises Conflict/Invalid/Forbidden when it cannot be applied."""
    inv = get_invitation(session, invitation_id)
    if inv.producer_id != producer_id:
        raise Forbidden("this invitation belongs to another producer", field="invitation_id")
    # Lock the fair first, then the invitation: every booth assignment on a fair serialises here,
    # so capacity holds even when many producers accept the last booths at once.
    fair = get_fair(session, inv.fair_id, lock=True)
    session.refresh(inv, with_for_update=True)
    if inv.status != "issued":
        raise Conflict(f"the invitation is already {inv.status}", field="invitation_id")
    if answered_at > aware(inv.deadline):
        raise Invalid(f"the deadline {aware(inv.deadline).isoformat()} has passed", field="answered_at")
    inv.note = note
    inv.answered_at = answered_at
    inv.version += 1
    base = {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair_id": fair.id, "note": note,
            "answered_at": answered_at}
    if answer == "accept":
        if fair.booths_assigned >= fair.capacity:
            raise Conflict("every booth of the fair is taken", field="invitation_id")
        fair.booths_assigned += 1
        inv.booth = fair.booths_assigned
        inv.status = "accepted"
        session.flush()
        emit(session, "events.invitation.accepted", inv.id, inv.version, {**base, "booth": inv.booth})
    else:
        inv.status = "declined"
        session.flush()
        emit(session, "events.invitation.declined", inv.id, inv.version, base)
        promote_next(session, emit, fair)
    return inv


def promote_next(session: Session, emit, fair: Fair) -> Invitation | None:
    nxt = session.scalar(select(Invitation).where(Invitation.fair_id == fair.id, Invitation.status == "waitlisted")
                         .order_by(Invitation.rank).limit(1))
    if nxt is None or datetime.now(UTC) > aware(fair.invitation_deadline):
        return None
    nxt.status = "issued"
    nxt.version += 1
    session.flush()
    _emit_issued(session, emit, nxt, fair)
    return nxt


def list_invitations(session: Session, fair_id: str) -> list[Invitation]:
    get_fair(session, fair_id)
    return list(session.scalars(select(Invitation).where(Invitation.fair_id == fair_id).order_by(Invitation.rank)))


def counts(session: Session, fair_id: str) -> dict:
    rows = session.execute(select(Invitation.status, func.count()).where(Invitation.fair_id == fair_id)
                           .group_by(Invitation.status)).all()
    return {status: n for status, n in rows}


def today() -> date:
    return datetime.now(UTC).date()
