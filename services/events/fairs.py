"""A fair's life: created as a draft, changed, published, inviting, closed, held or cancelled.
Flush, emit into the outbox, never commit.

Locking, so that capacity holds with any number of API and worker replicas: every change to a
fair's booths or invitations first locks the fair's row (``SELECT ... FOR UPDATE``); an acceptance
first takes the producer's advisory lock (PostgreSQL), so one producer accepting two overlapping
fairs at once is serialised too. Order: producer, then fair; a change touching several fairs locks
them in id order. SQLite (the embedded default) serialises every writer at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from shared import reference
from shared.errors import Invalid
from shared.instants import utc, vietnam_today
from shared.text import nfc

from . import domain, matching
from .invitations import OPEN_INVITATION, expire, issue, new_invitation, promote, withdraw
from .models import Fair
from .payloads import fair_state
from .queries import get_fair, locked_invitations
from .standings import ranking, rules_of, terms

FAIR_FIELDS = (
    "name",
    "kind",
    "organiser",
    "organiser_kind",
    "host_province",
    "region",
    "venue",
    "venue_kind",
    "starts_on",
    "ends_on",
    "capacity",
    "invitation_deadline",
    "response_days",
    "subsidy_per_booth",
    "budget",
    "rules",
    "organiser_contact",
    "organiser_phone",
    "organiser_email",
)


def _rule(fn, *args):
    try:
        return fn(*args)
    except domain.RuleError as exc:
        raise Invalid(exc.message, field=exc.field) from exc  # a dotted field nests as marshmallow nests it


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


def create_fair(session: Session, data: dict, now: datetime | None = None, owner_scope: str | None = None) -> Fair:
    """A draft fair, owned by ``owner_scope`` (the creating account's). Drafts are the trade
    department's own: no event until it is published."""
    now = now or datetime.now(UTC)
    values = {k: data.get(k) for k in FAIR_FIELDS}
    values["invitation_deadline"] = _utc(data["invitation_deadline"], "invitation_deadline")
    province, values["region"] = _host(data["host_province"], data.get("region"))
    _rule(domain.check_rules, values["rules"])
    _check_fair(values, 0, now)
    _rule(domain.check_deadline_ahead, values["invitation_deadline"], now)
    fair = Fair(
        **{
            **values,
            "name": nfc(values["name"]),
            "organiser": nfc(values["organiser"]),
            "organiser_contact": nfc(values["organiser_contact"]) if values["organiser_contact"] else None,
            "venue": nfc(values["venue"]),
            "host_province": province.name,
            "host_province_entered": province.entered_as,
            "response_days": values["response_days"] or 14,
        },
        status="draft",
        version=1,
        booths_assigned=0,
        owner_scope=owner_scope,
    )
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
    values["invitation_deadline"] = utc(values["invitation_deadline"])
    if "invitation_deadline" in changes:
        changes["invitation_deadline"] = _utc(changes["invitation_deadline"], "invitation_deadline")
        _rule(domain.check_deadline_ahead, changes["invitation_deadline"], now)
    if "host_province" in changes or "region" in changes:
        province, changes["region"] = _host(
            changes.get("host_province", fair.host_province_entered or fair.host_province), changes.get("region")
        )
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
    changed = sorted(
        k
        for k in changes
        if getattr(fair, k) != values[k]
        and not (k == "invitation_deadline" and utc(fair.invitation_deadline) == values[k])
    )
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
        promote(session, emit, fair, "capacity_raised", None, now)
    return fair


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
    emit(
        session,
        "events.fair.published",
        fair.id,
        fair.version,
        {**fair_state(fair), "min_stars": rules_of(fair).min_stars},
    )
    if invite:
        _start_inviting(session, emit, fair, now)
    return fair


def start_inviting(
    session: Session, emit, fair_id: str, now: datetime | None = None, decisions: list[matching.Decision] | None = None
) -> Fair:
    """published → inviting. ``decisions``: invitations and waitlist decided elsewhere (a season
    plan, see season.operations) instead of matching this fair alone."""
    fair = get_fair(session, fair_id, lock=True)
    _start_inviting(session, emit, fair, now or datetime.now(UTC), decisions)
    return fair


def _start_inviting(
    session: Session, emit, fair: Fair, now: datetime, decisions: list[matching.Decision] | None = None
) -> None:
    """published → inviting: match, invite the top candidates, waitlist the next ones."""
    _rule(domain.check_transition, fair.status, "inviting")
    _rule(domain.check_deadline_ahead, utc(fair.invitation_deadline), now)
    if decisions is None:
        decisions = matching.select(ranking(session, fair, now), terms(fair))
    previous = _transition(session, fair, "inviting")
    counts = Counter(d.outcome for d in decisions)
    emit(
        session,
        "events.fair.inviting",
        fair.id,
        fair.version,
        {**fair_state(fair), "previous_status": previous, "invited": counts["issue"], "waitlisted": counts["waitlist"]},
    )
    for d in decisions:
        if d.outcome == "issue":
            issue(session, emit, new_invitation(fair, d.pick, d.pick.rank, "issued", None), fair, now)
        elif d.outcome == "waitlist":
            session.add(new_invitation(fair, d.pick, d.pick.rank, "waitlisted", d.hold))
    session.flush()


def close_fair(session: Session, emit, fair_id: str, now: datetime | None = None) -> Fair:
    """inviting → closed: unanswered invitations expire; the waitlist stays as it is."""
    now = now or datetime.now(UTC)
    fair = get_fair(session, fair_id, lock=True)
    previous = _transition(session, fair, "closed")
    for inv in locked_invitations(session, fair.id, ("issued",)):
        expire(session, emit, inv, "the fair stopped inviting")
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
    for inv in locked_invitations(session, fair.id, OPEN_INVITATION):
        withdraw(session, emit, fair, inv, words, "fair_cancelled", reason)
    fair.cancel_reason = reason
    previous = _transition(session, fair, "cancelled")
    emit(
        session,
        "events.fair.cancelled",
        fair.id,
        fair.version,
        {**fair_state(fair), "previous_status": previous, "reason": reason},
    )
    return fair
