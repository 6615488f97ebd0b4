"""State changes of the events service. Flush, emit into the outbox, never commit.

Locking, so that capacity holds with any number of API and worker replicas: every change to a
fair's booths or invitations first locks the fair's row (``SELECT ... FOR UPDATE``); an acceptance
first takes the producer's advisory lock (PostgreSQL), so one producer accepting two overlapping
fairs at once is serialised too. Order: producer, then fair; a change touching several fairs locks
them in id order. SQLite (the embedded default) serialises every writer at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from shared import reference
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.instants import vietnam_today
from shared.text import nfc

from . import domain, matching, selection
from .models import CertifiedProduct, Fair, Invitation, ProducerView, ProductView

OPEN_INVITATION = ("issued", "waitlisted", "accepted")
HISTORY_DAYS = 365


def aware(dt: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _rule(fn, *args):
    try:
        return fn(*args)
    except domain.RuleError as exc:
        raise Invalid(exc.message, field=exc.field) from exc  # a dotted field nests as marshmallow nests it


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
            applied = cursor.fetchone() is not None
    else:
        applied = conn.execute(_UPSERT, values).first() is not None  # SQLite: its types' bind processing
    _overlay_producers(session, [data["producer_id"]])
    return applied


def _certification_values(envelope: dict, data: dict) -> dict:
    return {"product_id": data["product_id"], "product_name": data["product_name"],
            "producer_id": data["producer_id"], "producer_name": data["producer_name"],
            "producer_kind": data["producer_kind"], "group": data["group"], "province": data["province"],
            "province_entered": data.get("province_entered"), "region": data["region"], "stars": data["stars"],
            "certification_id": data["certification_id"],
            "valid_until": data["valid_until"], "status": "current", "subgroup": data.get("subgroup"),
            "potential_five_star": data.get("potential_five_star", False),
            "source_version": envelope["subject_version"], "updated_at": datetime.now(UTC)}


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
    _overlay_producers(session, sorted({data["producer_id"] for _, data in batch}))


def _overlay_producers(session: Session, producer_ids: list[str]) -> None:
    """A certification event carries its producer as it was when the certificate was granted. Once
    the registry has changed a producer (registry.producer.updated, version 2 on), the producers
    read model holds its newest state and wins, whichever of the two events arrived first (events
    of two subjects are not ordered with each other). One statement for a whole batch."""
    c, p = CertifiedProduct.__table__, ProducerView.__table__
    session.execute(c.update().where(c.c.producer_id == p.c.producer_id, c.c.producer_id.in_(producer_ids),
                                     p.c.source_version > 1)
                    .values(producer_name=p.c.name, producer_kind=p.c.kind, province=p.c.province,
                            province_entered=p.c.province_entered, region=p.c.region))


_FROM_PRODUCTS = "provincial_key_product"  # a certified row's column that the products row supplies


def _certification_upsert(param) -> str:
    """The upsert's SQL, which PostgreSQL and SQLite both accept, with ``param(name)`` for the
    placeholders. Text: SQLAlchemy 2.0 does not cache the dialects' ``on_conflict_do_update``
    statements and compiled one anew for every event."""
    table = CertifiedProduct.__table__
    names = [c.name for c in table.c]
    quoted = {n: f'"{n}"' for n in names}  # "group" is a reserved word
    values = {n: param(n) for n in names}
    # Only product events carry the provincial key designation: the products row's, when there is one.
    values[_FROM_PRODUCTS] = (f"COALESCE((SELECT p.{_FROM_PRODUCTS} FROM {ProductView.__tablename__} p "
                              f"WHERE p.product_id = CAST({param('product_id')} AS VARCHAR(36))), false)")
    return (f"INSERT INTO {table.name} ({', '.join(quoted.values())}) "
            f"VALUES ({', '.join(values.values())}) ON CONFLICT (product_id) DO UPDATE SET "
            + ", ".join(f"{quoted[n]} = excluded.{quoted[n]}" for n in names if n != "product_id")
            + f" WHERE {table.name}.source_version < excluded.source_version RETURNING product_id")


def _typed_upsert():
    from sqlalchemy import bindparam

    return text(_certification_upsert(lambda n: f":{n}")).bindparams(
        *[bindparam(c.name, type_=c.type) for c in CertifiedProduct.__table__.c if c.name != _FROM_PRODUCTS])



_UPSERT_PG = _certification_upsert(lambda n: f"%({n})s")
_UPSERT = _typed_upsert()


def apply_producer(session: Session, envelope: dict, data: dict) -> bool:
    """registry.producer.registered/updated: the producers read model (newer versions only), and
    the producer's name, kind and province on its certified products."""
    row = session.get(ProducerView, data["producer_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return False
    if row is None:
        row = ProducerView(producer_id=data["producer_id"])
        session.add(row)
    row.name, row.kind, row.province, row.region = data["name"], data["kind"], data["province"], data["region"]
    row.province_entered = data.get("province_entered")
    row.email, row.phone = data.get("email"), data.get("phone")
    row.source_version = envelope["subject_version"]
    session.flush()
    _overlay_producers(session, [row.producer_id])
    return True


def apply_product(session: Session, envelope: dict, data: dict) -> bool:
    """registry.product.registered/updated: the products read model, and a renamed or regrouped
    product's certified row (newer versions only)."""
    row = session.get(ProductView, data["product_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return False
    if row is None:
        row = ProductView(product_id=data["product_id"])
        session.add(row)
    row.producer_id, row.name, row.group = data["producer_id"], data["name"], data["group"]
    row.subgroup, row.potential_five_star = data.get("subgroup"), data["potential_five_star"]
    row.provincial_key_product = data.get("provincial_key_product", False)
    row.source_version = envelope["subject_version"]
    certified = session.get(CertifiedProduct, data["product_id"], with_for_update=True)
    if certified is not None:
        # Only product events carry the designation: the newest product event's, whatever the row's version.
        certified.provincial_key_product = row.provincial_key_product
    if certified is not None and certified.source_version < envelope["subject_version"]:
        certified.product_name, certified.group = data["name"], data["group"]
        certified.subgroup, certified.potential_five_star = data.get("subgroup"), data["potential_five_star"]
        certified.source_version = envelope["subject_version"]
    session.flush()
    return True


apply_product_updated = apply_product  # the name before issue 4


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
FAIR_FIELDS = ("name", "kind", "organiser", "organiser_kind", "host_province", "region", "venue", "venue_kind",
               "starts_on",
               "ends_on", "capacity", "invitation_deadline", "response_days", "subsidy_per_booth", "budget", "rules",
               "organiser_contact", "organiser_phone", "organiser_email")


def _utc(value: datetime, field: str) -> datetime:
    # Stored in UTC: SQLite keeps no offset, so 23:00+07:00 would come back as 23:00 UTC.
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise Invalid("is out of range", field=field) from None


def _host(entered: str, region: str | None) -> tuple[reference.Province, str]:
    try:
        province = reference.resolve_province(entered)
    except reference.UnknownName as exc:
        raise Invalid(str(exc), field="host_province") from None
    if region is not None and region != province.region:
        raise Invalid(f"{province.name} is in {province.region}, not {region}", field="region")
    return province, province.region


def _check_fair(values: dict, booths_assigned: int, now: datetime) -> None:
    _rule(domain.check_dates, values["starts_on"], values["ends_on"], values["invitation_deadline"], values["kind"])
    _rule(domain.check_capacity, values["capacity"], booths_assigned)
    _rule(domain.check_budget, values.get("budget"), values["subsidy_per_booth"], values["capacity"])


def create_fair(session: Session, data: dict, now: datetime | None = None) -> Fair:
    """A draft fair. Drafts are the trade department's own: no event until it is published."""
    now = now or datetime.now(UTC)
    values = {k: data.get(k) for k in FAIR_FIELDS}
    values["invitation_deadline"] = _utc(data["invitation_deadline"], "invitation_deadline")
    province, values["region"] = _host(data["host_province"], data.get("region"))
    _rule(domain.check_rules, values["rules"])
    _check_fair(values, 0, now)
    _rule(domain.check_deadline_ahead, values["invitation_deadline"], now)
    fair = Fair(**{**values, "name": nfc(values["name"]), "organiser": nfc(values["organiser"]),
                   "organiser_contact": nfc(values["organiser_contact"]) if values["organiser_contact"] else None,
                   "venue": nfc(values["venue"]), "host_province": province.name,
                   "host_province_entered": province.entered_as, "response_days": values["response_days"] or 14},
                status="draft", version=1, booths_assigned=0)
    session.add(fair)
    session.flush()
    return fair


def update_fair(session: Session, emit, fair_id: str, changes: dict, now: datetime | None = None) -> Fair:
    """PATCH: any field of a draft or published fair; while inviting, only what leaves eligibility
    and dates alone (more booths promote from the waitlist). Emits events.fair.updated once public."""
    now = now or datetime.now(UTC)
    fair = get_fair(session, fair_id, lock=True)
    _rule(domain.check_editable, fair.status, set(changes))
    values = {k: getattr(fair, k) for k in FAIR_FIELDS}
    values["invitation_deadline"] = aware(values["invitation_deadline"])
    if "invitation_deadline" in changes:
        changes["invitation_deadline"] = _utc(changes["invitation_deadline"], "invitation_deadline")
        _rule(domain.check_deadline_ahead, changes["invitation_deadline"], now)
    if "host_province" in changes or "region" in changes:
        province, changes["region"] = _host(changes.get("host_province", fair.host_province_entered
                                                        or fair.host_province), changes.get("region"))
        changes["host_province"] = province.name
        fair.host_province_entered = province.entered_as
    for key in ("name", "organiser", "venue", "organiser_contact"):
        if changes.get(key) is not None:
            changes[key] = nfc(changes[key])
    if "rules" in changes:
        weights = {**(fair.rules or {}).get("regional_weights", {}), **changes["rules"].get("regional_weights", {})}
        changes["rules"] = {**(fair.rules or {}), **changes["rules"], "regional_weights": weights}
        _rule(domain.check_rules, changes["rules"])
    values.update(changes)
    _check_fair(values, fair.booths_assigned, now)
    changed = sorted(k for k in changes if getattr(fair, k) != values[k] and not (
        k == "invitation_deadline" and aware(fair.invitation_deadline) == values[k]))
    if not changed:
        return fair
    raised = values["capacity"] > fair.capacity
    for key in changed:
        setattr(fair, key, values[key])
    fair.version += 1
    session.flush()
    if fair.status != "draft":
        emit(session, "events.fair.updated", fair.id, fair.version, {**fair_state(fair), "changed": changed})
    if raised and fair.status == "inviting":
        _promote(session, emit, fair, "capacity_raised", None, now)
    return fair


def get_fair(session: Session, fair_id: str, lock: bool = False) -> Fair:
    fair = session.get(Fair, fair_id, with_for_update=lock, populate_existing=lock)
    if fair is None:
        raise NotFound(f"no fair {fair_id}", field="fair_id")
    return fair


def list_fairs(session: Session, status: str | None = None, kind: str | None = None) -> list[Fair]:
    q = select(Fair).order_by(Fair.starts_on, Fair.name)
    if status:
        q = q.where(Fair.status == status)
    if kind:
        q = q.where(Fair.kind == kind)
    return list(session.scalars(q))


def venue_clashes(session: Session, fair: Fair) -> list[Fair]:
    """Other open fairs at the same venue on overlapping dates. A warning, not an error: big
    exhibition centres (SECC, Giảng Võ) hold several fairs at once in different halls."""
    q = select(Fair).where(Fair.id != fair.id, Fair.status != "cancelled", Fair.host_province == fair.host_province,
                           Fair.starts_on <= fair.ends_on, Fair.ends_on >= fair.starts_on)
    from shared.text import fold

    return [f for f in session.scalars(q) if fold(f.venue) == fold(fair.venue)]


def fair_summary(fair: Fair) -> dict:
    """The fair as its invitations carry it: what a letter about it says, the organiser and whom to
    ask included."""
    return {"fair_id": fair.id, "name": fair.name, "kind": fair.kind, "venue": fair.venue,
            "host_province": fair.host_province, "region": fair.region, "starts_on": fair.starts_on,
            "ends_on": fair.ends_on, "subsidy_per_booth": fair.subsidy_per_booth, "organiser": fair.organiser,
            "organiser_contact": fair.organiser_contact, "organiser_phone": fair.organiser_phone,
            "organiser_email": fair.organiser_email}


def fair_state(fair: Fair) -> dict:
    return {**fair_summary(fair), "organiser_kind": fair.organiser_kind,
            "host_province_entered": fair.host_province_entered, "capacity": fair.capacity,
            "booths_assigned": fair.booths_assigned, "invitation_deadline": aware(fair.invitation_deadline),
            "response_days": fair.response_days, "budget": fair.budget, "status": fair.status,
            "rules": fair.rules or {}}


def _transition(session: Session, fair: Fair, target: str) -> str:
    _rule(domain.check_transition, fair.status, target)
    previous, fair.status = fair.status, target
    fair.version += 1
    session.flush()
    return previous


def publish_fair(session: Session, emit, fair_id: str, invite: bool = True, now: datetime | None = None) -> Fair:
    """draft → published (announced), and by default straight on → inviting."""
    now = now or datetime.now(UTC)
    fair = get_fair(session, fair_id, lock=True)
    _transition(session, fair, "published")
    fair.published_at = now
    emit(session, "events.fair.published", fair.id, fair.version,
         {**fair_state(fair), "min_stars": rules_of(fair).min_stars})
    if invite:
        _start_inviting(session, emit, fair, now)
    return fair


def start_inviting(session: Session, emit, fair_id: str, now: datetime | None = None,
                   decisions: list[matching.Decision] | None = None) -> Fair:
    """published → inviting. ``decisions``: invitations and waitlist decided elsewhere (a season
    plan, see season_operations) instead of matching this fair alone."""
    fair = get_fair(session, fair_id, lock=True)
    _start_inviting(session, emit, fair, now or datetime.now(UTC), decisions)
    return fair


def _start_inviting(session: Session, emit, fair: Fair, now: datetime,
                    decisions: list[matching.Decision] | None = None) -> None:
    """published → inviting: match, invite the top candidates, waitlist the next ones."""
    _rule(domain.check_transition, fair.status, "inviting")
    _rule(domain.check_deadline_ahead, aware(fair.invitation_deadline), now)
    if decisions is None:
        decisions = matching.select(ranking(session, fair, now), terms(fair))
    previous = _transition(session, fair, "inviting")
    counts = Counter(d.outcome for d in decisions)
    emit(session, "events.fair.inviting", fair.id, fair.version,
         {**fair_state(fair), "previous_status": previous, "invited": counts["issue"],
          "waitlisted": counts["waitlist"]})
    for d in decisions:
        if d.outcome == "issue":
            _issue(session, emit, _new_invitation(fair, d.pick, d.pick.rank, "issued", None), fair, now)
        elif d.outcome == "waitlist":
            session.add(_new_invitation(fair, d.pick, d.pick.rank, "waitlisted", d.hold))
    session.flush()


def close_fair(session: Session, emit, fair_id: str, now: datetime | None = None) -> Fair:
    """inviting → closed: unanswered invitations expire; the waitlist stays as it is."""
    now = now or datetime.now(UTC)
    fair = get_fair(session, fair_id, lock=True)
    previous = _transition(session, fair, "closed")
    for inv in _invitations(session, fair.id, ("issued",)):
        _expire(session, emit, inv, "the fair stopped inviting")
    emit(session, "events.fair.closed", fair.id, fair.version, {**fair_state(fair), "previous_status": previous})
    return fair


def hold_fair(session: Session, emit, fair_id: str, today: date | None = None) -> Fair:
    fair = get_fair(session, fair_id, lock=True)
    _rule(domain.check_transition, fair.status, "held")
    _rule(domain.check_can_hold, fair.starts_on, today or vietnam_today())
    previous = _transition(session, fair, "held")
    emit(session, "events.fair.held", fair.id, fair.version, {**fair_state(fair), "previous_status": previous})
    return fair


def cancel_fair(session: Session, emit, fair_id: str, reason: str | None) -> Fair:
    """Any open state → cancelled: every open invitation is withdrawn and its booths freed."""
    fair = get_fair(session, fair_id, lock=True)
    _rule(domain.check_transition, fair.status, "cancelled")
    words = f"the fair was cancelled: {reason}" if reason else "the fair was cancelled"
    for inv in _invitations(session, fair.id, OPEN_INVITATION):
        _withdraw(session, emit, fair, inv, words, "fair_cancelled", reason)
    fair.cancel_reason = reason
    previous = _transition(session, fair, "cancelled")
    emit(session, "events.fair.cancelled", fair.id, fair.version,
         {**fair_state(fair), "previous_status": previous, "reason": reason})
    return fair


# ---- matching -------------------------------------------------------------------------------
def rules_of(fair: Fair) -> matching.Rules:
    return matching.Rules.from_dict(fair.rules)


def terms(fair: Fair) -> matching.FairTerms:
    return matching.FairTerms(fair.id, fair.kind, fair.starts_on, fair.ends_on, fair.region, fair.capacity,
                              rules_of(fair))


def history(session: Session, fair: Fair, now: datetime, producer_ids: list[str] | None = None) \
        -> dict[str, matching.History]:
    """Per producer, the last 12 months: invitations actually offered (issued, then answered or
    not) and fairs exhibited at (accepted), in any fair but this one that was not cancelled."""
    offered = Invitation.status.in_(("issued", "accepted", "declined", "expired"))
    q = (select(Invitation.producer_id, func.count(), func.sum(case((Invitation.status == "accepted", 1), else_=0)))
         .join(Fair, Fair.id == Invitation.fair_id)
         .where(offered, Invitation.fair_id != fair.id, Fair.status != "cancelled",
                Invitation.created_at >= now - timedelta(days=HISTORY_DAYS))
         .group_by(Invitation.producer_id))
    if producer_ids is not None:
        q = q.where(Invitation.producer_id.in_(producer_ids))
    return {pid: matching.History(invited, int(exhibited or 0)) for pid, invited, exhibited in session.execute(q)}


def busy(session: Session, fair: Fair, producer_ids: list[str] | None = None) -> dict[str, str]:
    """Producers already accepted at another staffed fair on overlapping dates: never double-booked."""
    if fair.kind in domain.LONG_RUNNING:
        return {}
    q = (select(Invitation.producer_id, Fair.name, Fair.starts_on, Fair.ends_on)
         .join(Fair, Fair.id == Invitation.fair_id)
         .where(Invitation.status == "accepted", Fair.id != fair.id, Fair.status != "cancelled",
                Fair.kind.not_in(sorted(domain.LONG_RUNNING)), Fair.starts_on <= fair.ends_on,
                Fair.ends_on >= fair.starts_on))
    if producer_ids is not None:
        q = q.where(Invitation.producer_id.in_(producer_ids))
    return {pid: f"already exhibiting at {name} ({start.isoformat()} to {end.isoformat()}), which overlaps this fair"
            for pid, name, start, end in session.execute(q)}


def ranking(session: Session, fair: Fair, now: datetime) -> matching.Ranking:
    """The fair's ranking on the whole read model: the rules applied in SQL, picks built when read
    (see ``selection``)."""
    return selection.ranking(session, terms(fair), history(session, fair, now), busy(session, fair))


def preview(session: Session, fair: Fair, now: datetime | None = None) -> list[matching.Decision]:
    """Who would be invited if the fair started inviting now, and who waitlisted; nothing is sent."""
    return matching.select(ranking(session, fair, now or datetime.now(UTC)), terms(fair))


# ---- invitations ----------------------------------------------------------------------------
def _products(pick: matching.Pick) -> list[dict]:
    return [{"product_id": c.product_id, "name": c.product_name, "stars": c.stars} for c in pick.products]


def _new_invitation(fair: Fair, pick: matching.Pick, rank: int, status: str, hold: str | None) -> Invitation:
    reasons = pick.reasons + ([f"waitlisted: {hold}"] if hold else [])
    return Invitation(fair_id=fair.id, producer_id=pick.producer_id, status=status, rank=rank, score=pick.score,
                      score_parts=pick.parts, reasons=reasons, group=pick.group, booth_count=pick.booths,
                      products=_products(pick), deadline=aware(fair.invitation_deadline), version=1,
                      status_reason=hold)


def _issue(session: Session, emit, inv: Invitation, fair: Fair, now: datetime) -> Invitation:
    """Offer the invitation: its own deadline, and events.invitation.issued (notifications emails it)."""
    inv.status, inv.status_reason, inv.issued_at = "issued", None, now
    inv.deadline = domain.invitation_deadline(now, fair.response_days, aware(fair.invitation_deadline))
    if inv.id is None:
        session.add(inv)
    session.flush()
    emit(session, "events.invitation.issued", inv.id, inv.version,
         {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair": fair_summary(fair),
          "products": inv.products, "deadline": aware(inv.deadline), "score": inv.score, "reasons": inv.reasons,
          "rank": inv.rank, "score_parts": inv.score_parts, "booth_count": inv.booth_count,
          **_producer_province(session, inv.producer_id)})
    return inv


def _producer_province(session: Session, producer_id: str) -> dict:
    """The producer's province for the letter, both names where it keeps an old one (read model)."""
    source = (session.get(ProducerView, producer_id)
              or session.scalars(select(CertifiedProduct).where(CertifiedProduct.producer_id == producer_id)
                                 .limit(1)).first())
    if source is None:
        return {}
    return {"producer_province": source.province, "producer_province_entered": source.province_entered}


def _invitations(session: Session, fair_id: str, statuses) -> list[Invitation]:
    return list(session.scalars(select(Invitation).where(Invitation.fair_id == fair_id,
                                                         Invitation.status.in_(statuses))
                                .order_by(Invitation.rank).with_for_update()))


def _load(session: Session, fair_id: str) -> matching.Load:
    load = matching.Load()
    q = (select(Invitation.status, Invitation.group, func.sum(Invitation.booth_count))
         .where(Invitation.fair_id == fair_id, Invitation.status.in_(("issued", "accepted")))
         .group_by(Invitation.status, Invitation.group))
    for status, group, booths in session.execute(q):
        if status == "accepted":
            load.accepted += booths
            load.accepted_by_group[group] += booths
        else:
            load.add_issued(group, booths)
    return load


def get_invitation(session: Session, invitation_id: str, lock: bool = False) -> Invitation:
    inv = session.get(Invitation, invitation_id, with_for_update=lock, populate_existing=lock)
    if inv is None:
        raise NotFound(f"no invitation {invitation_id}", field="invitation_id")
    return inv


def _lock_producer(session: Session, producer_id: str) -> None:
    """Serialise one producer's acceptances across fairs (so two overlapping fairs cannot both be
    accepted at once). PostgreSQL: a transaction-scoped advisory lock; SQLite serialises anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"ocop-producer:{producer_id}"})


def answer_invitation(session: Session, emit, invitation_id: str, producer_id: str, answer: str,
                      note: str | None, answered_at: datetime, received_at: datetime | None = None) -> Invitation:
    """Apply a producer's answer. Raises Conflict/Invalid/Forbidden when it cannot be applied.

    The deadline is judged by ``received_at``, when this service received the answer (the time a
    message claims is only recorded, never believed); without it, by ``answered_at``."""
    inv = get_invitation(session, invitation_id)
    if inv.producer_id != producer_id:
        raise Forbidden("this invitation belongs to another producer", field="invitation_id", cause="not_yours")
    if answer == "accept":
        _lock_producer(session, producer_id)
    # Lock the fair first, then the invitation: every booth assignment on a fair serialises here,
    # so capacity holds even when many producers accept the last booths at once.
    fair = get_fair(session, inv.fair_id, lock=True)
    inv = get_invitation(session, invitation_id, lock=True)
    if inv.status != "issued":
        what = "not offered yet: it is on the waitlist" if inv.status == "waitlisted" else f"already {inv.status}"
        cause = {"waitlisted": "waitlisted", "accepted": "already_answered", "declined": "already_answered"}.get(
            inv.status, "closed")
        raise Conflict(f"the invitation is {what}", field="invitation_id", cause=cause)
    if (received_at or answered_at) > aware(inv.deadline):
        raise Invalid(f"the deadline {aware(inv.deadline).isoformat()} has passed", field="answered_at",
                      cause="deadline_passed")
    base = {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair_id": fair.id, "note": note,
            "answered_at": answered_at}
    if answer == "accept":
        _accept(session, emit, fair, inv, base)
    else:
        _answered(inv, "declined", note, answered_at)
        session.flush()
        emit(session, "events.invitation.declined", inv.id, inv.version, base)
        _promote(session, emit, fair, "declined", inv.id, datetime.now(UTC))
    return inv


def _answered(inv: Invitation, status: str, note: str | None, answered_at: datetime) -> None:
    inv.status, inv.note, inv.answered_at = status, note, answered_at
    inv.version += 1


def _accept(session: Session, emit, fair: Fair, inv: Invitation, base: dict) -> None:
    clash = busy(session, fair, [inv.producer_id]).get(inv.producer_id)
    if clash:
        raise Conflict(f"cannot accept: {clash}", field="invitation_id", cause="clash")
    t = terms(fair)
    refusal = matching.acceptance_refusal(t, _load(session, fair.id), inv.group, inv.booth_count)
    if refusal:
        raise Conflict(refusal, field="invitation_id", cause="fair_full")
    used = [b for (booths,) in session.execute(select(Invitation.booths).where(
        Invitation.fair_id == fair.id, Invitation.status == "accepted")) for b in (booths or [])]
    inv.booths = matching.free_booths(fair.capacity, used, inv.booth_count)
    inv.booth = inv.booths[0]
    _answered(inv, "accepted", base["note"], base["answered_at"])
    fair.booths_assigned += inv.booth_count
    fair.version += 1  # its booths changed: events about them carry a newer version each time
    session.flush()
    emit(session, "events.invitation.accepted", inv.id, inv.version, {**base, "booth": inv.booth,
                                                                       "booths": inv.booths})
    emit(session, "events.booth.assigned", fair.id, fair.version,
         {"fair_id": fair.id, "invitation_id": inv.id, "producer_id": inv.producer_id, "booths": inv.booths,
          "booths_assigned": fair.booths_assigned, "capacity": fair.capacity})
    _withdraw_unfulfillable(session, emit, fair)


def _withdraw_unfulfillable(session: Session, emit, fair: Fair) -> None:
    """With overbooking, offers can outnumber booths: once the booths (or a group's quota) are gone,
    the offers that can no longer be honoured are withdrawn instead of left to fail on acceptance."""
    t, load = terms(fair), _load(session, fair.id)  # withdrawing offers changes no accepted booth
    for inv in _invitations(session, fair.id, ("issued",)):
        refusal = matching.acceptance_refusal(t, load, inv.group, inv.booth_count)
        if refusal:
            _withdraw(session, emit, fair, inv, refusal, "fair_full")


def _withdraw(session: Session, emit, fair: Fair, inv: Invitation, reason: str, cause: str,
              detail: str | None = None) -> None:
    """``reason`` in words; ``cause`` its code (contracts.events.WITHDRAWAL_CAUSES), ``detail`` what it names."""
    previous, freed = inv.status, list(inv.booths or []) if inv.status == "accepted" else []
    if freed:
        fair.booths_assigned -= inv.booth_count
        fair.version += 1
    inv.status, inv.status_reason = "withdrawn", reason
    inv.version += 1
    session.flush()
    emit(session, "events.invitation.withdrawn", inv.id, inv.version,
         {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair_id": fair.id, "previous_status": previous,
          "reason": reason, "booths": freed, "cause": cause, "detail": detail})


def _expire(session: Session, emit, inv: Invitation, reason: str) -> None:
    inv.status, inv.status_reason = "expired", reason
    inv.version += 1
    session.flush()
    emit(session, "events.invitation.expired", inv.id, inv.version,
         {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair_id": inv.fair_id,
          "deadline": aware(inv.deadline)})


def withdraw_invitation(session: Session, emit, invitation_id: str, reason: str, now: datetime | None = None) \
        -> Invitation:
    """The organiser takes an invitation back (issued, waitlisted or accepted); the next waitlisted moves up."""
    inv = get_invitation(session, invitation_id)
    fair = get_fair(session, inv.fair_id, lock=True)
    inv = get_invitation(session, invitation_id, lock=True)
    if inv.status not in OPEN_INVITATION:
        raise Conflict(f"the invitation is already {inv.status}", field="invitation_id")
    if fair.status not in ("published", "inviting", "closed"):
        raise Conflict(f"the fair is {fair.status}", field="status")
    _withdraw(session, emit, fair, inv, f"withdrawn by the organiser: {reason}", "organiser", reason)
    _promote(session, emit, fair, "withdrawn", inv.id, now or datetime.now(UTC))
    return inv


def _promote(session: Session, emit, fair: Fair, cause: str, cause_invitation_id: str | None,
             now: datetime) -> list[Invitation]:
    """Fill freed places from the waitlist, best rank first, as far as booths and quotas allow.
    When the waitlist has run dry, match again for producers beyond it (once)."""
    if fair.status != "inviting" or now >= aware(fair.invitation_deadline):
        return []
    waiting = _invitations(session, fair.id, ("waitlisted",))
    if not waiting and _refill(session, fair, now):
        waiting = _invitations(session, fair.id, ("waitlisted",))
    t, load, promoted = terms(fair), _load(session, fair.id), []
    by_id = {w.id: w for w in waiting}
    queue = [matching.Waiting(w.id, w.rank, w.group, w.booth_count) for w in waiting]
    while (nxt := matching.next_to_promote(queue, t, load)) is not None:
        queue.remove(nxt)
        load.add_issued(nxt.group, nxt.booths)
        inv = by_id[nxt.invitation_id]
        deadline = domain.invitation_deadline(now, fair.response_days, aware(fair.invitation_deadline))
        inv.version += 1
        emit(session, "events.waitlist.promoted", inv.id, inv.version,
             {"invitation_id": inv.id, "producer_id": inv.producer_id, "fair_id": fair.id, "rank": inv.rank,
              "cause": cause, "cause_invitation_id": cause_invitation_id, "deadline": deadline})
        inv.version += 1  # then issued, one version later: each event about it is newer than the last
        _issue(session, emit, inv, fair, now)
        promoted.append(inv)
    return promoted


def _refill(session: Session, fair: Fair, now: datetime) -> int:
    """Match again and waitlist the best producers who have no invitation to this fair yet."""
    have = set(session.scalars(select(Invitation.producer_id).where(Invitation.fair_id == fair.id)))
    last = session.scalar(select(func.max(Invitation.rank)).where(Invitation.fair_id == fair.id)) or 0
    fresh = [p for p in ranking(session, fair, now) if p.producer_id not in have][: terms(fair).waitlist_size]
    for n, pick in enumerate(fresh, start=1):
        session.add(_new_invitation(fair, pick, last + n, "waitlisted", "added when the waitlist ran dry"))
    session.flush()
    return len(fresh)


def overdue_fairs(session: Session, cutoff: datetime) -> list[str]:
    """Fairs with issued invitations whose deadline passed before ``cutoff``."""
    return list(session.scalars(select(Invitation.fair_id).where(Invitation.status == "issued",
                                                                 Invitation.deadline < cutoff)
                                .group_by(Invitation.fair_id).order_by(Invitation.fair_id)))


def expire_overdue(session: Session, emit, fair_id: str, cutoff: datetime, now: datetime) -> int:
    """Expire one fair's issued invitations whose deadline passed before ``cutoff`` and promote from
    the waitlist. Idempotent: an invitation already expired (or answered) is left alone."""
    fair = get_fair(session, fair_id, lock=True)
    overdue = [inv for inv in _invitations(session, fair.id, ("issued",)) if aware(inv.deadline) < cutoff]
    for inv in overdue:
        _expire(session, emit, inv, "no answer before the deadline")
    for inv in overdue:
        _promote(session, emit, fair, "expired", inv.id, now)
    return len(overdue)


def certificate_ended(session: Session, emit, envelope: dict, data: dict) -> bool:
    """registry.certification.revoked/expired: the read model marks the product, and every open
    invitation of a fair still to come drops the product; one left with no product is withdrawn
    and the next waitlisted producer moves up."""
    if not apply_certification_ended(session, envelope, data):
        return False
    status = "revoked" if envelope["type"].endswith(".revoked") else "expired"
    today = datetime.now(UTC).date()
    mine = session.scalars(select(Invitation).where(Invitation.producer_id == data["producer_id"],
                                                    Invitation.status.in_(OPEN_INVITATION))
                           .order_by(Invitation.fair_id))
    affected = [inv for inv in mine if any(p["product_id"] == data["product_id"] for p in inv.products)]
    for inv in affected:
        fair = get_fair(session, inv.fair_id, lock=True)
        if fair.status not in ("published", "inviting", "closed") or fair.ends_on < today:
            continue
        inv = get_invitation(session, inv.id, lock=True)
        inv.products = [p for p in inv.products if p["product_id"] != data["product_id"]]
        if inv.products:
            inv.reasons = [*inv.reasons, f"{data['product_name']} dropped: its certificate was {status}"]
            inv.version += 1
            session.flush()
            continue
        was_open = inv.status in ("issued", "accepted")
        _withdraw(session, emit, fair, inv, f"the certificate of {data['product_name']} was {status}",
                  f"certificate_{status}", data["product_name"])
        if was_open:
            _promote(session, emit, fair, "withdrawn", inv.id, datetime.now(UTC))
    return True


def fairs_open_to_top_up(session: Session, now: datetime) -> list[Fair]:
    fairs = session.scalars(select(Fair).where(Fair.status == "inviting", Fair.invitation_deadline > now)
                            .order_by(Fair.id))
    return [f for f in fairs if rules_of(f).top_up]


def top_up(session: Session, emit, product_ids: list[str], now: datetime | None = None,
           fairs: list[Fair] | None = None) -> list[Invitation]:
    """Newly certified products: a fair still inviting, with room and top-up on, invites an eligible
    producer it has not invited yet, at once."""
    now = now or datetime.now(UTC)
    out = []
    for fair in fairs if fairs is not None else fairs_open_to_top_up(session, now):
        t = terms(fair)
        found = selection.candidates(session, t, product_ids=product_ids)
        if found:
            out += _top_up_fair(session, emit, fair.id, found, now)
    return out


def _top_up_fair(session: Session, emit, fair_id: str, found: list[matching.Candidate], now: datetime) \
        -> list[Invitation]:
    fair = get_fair(session, fair_id, lock=True)
    producers = sorted({c.producer_id for c in found})
    have = set(session.scalars(select(Invitation.producer_id).where(Invitation.fair_id == fair.id,
                                                                    Invitation.producer_id.in_(producers))))
    producers = [p for p in producers if p not in have]
    if not producers:
        return []
    t = terms(fair)
    picks = matching.rank(selection.candidates(session, t, producer_ids=producers), t,
                          history(session, fair, now, producers), busy(session, fair, producers))
    out = []
    for pick in picks:
        if matching.hold_reason(t, _load(session, fair.id), pick.group, pick.booths) is not None:
            continue
        last = session.scalar(select(func.max(Invitation.rank)).where(Invitation.fair_id == fair.id)) or 0
        pick.reasons.append("topped up: certified while the fair was inviting and had room")
        out.append(_issue(session, emit, _new_invitation(fair, pick, last + 1, "issued", None), fair, now))
    return out


def list_invitations(session: Session, fair_id: str, status: str | None = None) -> list[Invitation]:
    get_fair(session, fair_id)
    q = select(Invitation).where(Invitation.fair_id == fair_id).order_by(Invitation.rank)
    if status:
        q = q.where(Invitation.status == status)
    return list(session.scalars(q))


def counts(session: Session, fair_id: str) -> dict:
    rows = session.execute(select(Invitation.status, func.count()).where(Invitation.fair_id == fair_id)
                           .group_by(Invitation.status)).all()
    return {status: n for status, n in rows}


# ---- why (not) ------------------------------------------------------------------------------
def explain(session: Session, fair_id: str, product_id: str, now: datetime | None = None) -> dict:
    """Why a product was or was not chosen for a fair: its invitation, the rules it fails, or
    where it ranks against the cut."""
    now = now or datetime.now(UTC)
    fair = get_fair(session, fair_id)
    c = _known_product(session, product_id)
    t = terms(fair)
    out = {"fair_id": fair.id, "product_id": c.product_id, "product_name": c.product_name,
           "producer_id": c.producer_id, "failed_rules": [], "rank": None, "score": None, "parts": None,
           "cut": None, "invitation_id": None, "invitation_status": None}
    inv = session.scalar(select(Invitation).where(Invitation.fair_id == fair.id,
                                                  Invitation.producer_id == c.producer_id))
    if inv is not None and any(p["product_id"] == c.product_id for p in inv.products):
        return {**out, **_invitation_facts(inv), "outcome": "chosen",
                "message": f"chosen: {c.product_name} is on the producer's invitation, which is {inv.status}"}
    failed = [{"rule": rule, "message": words} for rule, words in matching.failures(c, t.rules, t.starts_on,
                                                                                   t.ends_on)]
    clash = busy(session, fair, [c.producer_id]).get(c.producer_id)
    if clash:
        failed.append({"rule": "double_booking", "message": clash})
    if failed:
        return {**out, "outcome": "ineligible", "failed_rules": failed,
                "message": "not eligible: " + "; ".join(f["message"] for f in failed)}
    if inv is not None:
        chosen = ", ".join(p["name"] for p in inv.products)
        return {**out, **_invitation_facts(inv), "outcome": "other_products_chosen",
                "message": f"the producer's invitation ({inv.status}) carries its best products for this fair "
                           f"({chosen}); at most {t.rules.max_products_per_producer} per producer"}
    return {**out, **_against_the_cut(session, fair, c, now)}


def _known_product(session: Session, product_id: str) -> matching.Candidate:
    found = selection.details(session)([product_id])
    if product_id in found:
        return found[product_id]
    raise NotFound(f"the events service knows no product {product_id}", field="product_id")


def _invitation_facts(inv: Invitation) -> dict:
    return {"rank": inv.rank, "score": inv.score, "parts": inv.score_parts, "invitation_id": inv.id,
            "invitation_status": inv.status}


def _against_the_cut(session: Session, fair: Fair, c: matching.Candidate, now: datetime) -> dict:
    picks = ranking(session, fair, now)
    pick = next((p for p in picks if p.producer_id == c.producer_id), None)
    facts = {"rank": pick.rank, "score": pick.score, "parts": pick.parts} if pick else {}
    if pick is None or all(x.product_id != c.product_id for x in pick.products):
        best = ", ".join(x.product_name for x in pick.products) if pick else ""
        return {**facts, "outcome": "other_products_chosen",
                "message": f"the producer's better products for this fair come first ({best}); at most "
                           f"{terms(fair).rules.max_products_per_producer} per producer"}
    if fair.status in ("draft", "published"):
        decision = next(d for d in matching.select(picks, terms(fair)) if d.pick is pick)
        words = {"issue": "would be invited", "waitlist": f"would be waitlisted ({decision.hold})",
                 "below_cut": f"would rank below the cut ({decision.hold})"}[decision.outcome]
        return {**facts, "outcome": {"issue": "would_be_invited", "waitlist": "would_be_waitlisted",
                                     "below_cut": "below_cut"}[decision.outcome],
                "message": f"{words}: rank {pick.rank} of {len(picks)}, score {pick.score}"}
    lowest = session.execute(select(Invitation.rank, Invitation.score).where(
        Invitation.fair_id == fair.id, Invitation.status.in_(("issued", "accepted", "declined", "expired")))
        .order_by(Invitation.score, Invitation.rank.desc()).limit(1)).first()
    cut = {"rank": lowest[0], "score": lowest[1]} if lowest else None
    if cut and pick.score < cut["score"]:
        message = (f"ranked below the cut: score {pick.score} (rank {pick.rank} of {len(picks)} today) against "
                   f"{cut['score']} for the last producer invited")
    else:
        message = (f"eligible now with score {pick.score} (rank {pick.rank} of {len(picks)}), but it was not among "
                   f"the candidates when invitations went out (certified or changed since, or beyond the "
                   f"waitlist); a top-up or a refill of the waitlist can still invite it")
    return {**facts, "outcome": "below_cut", "cut": cut, "message": message}
