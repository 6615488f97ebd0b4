"""Fair rules and matching: plain Python, no Flask or SQLAlchemy, unit-tested alone.

Matching here is the foundation's simple version: filter by the fair's rules, rank by stars,
then certificate freshness, then a deterministic tie-break; one invitation per producer
carrying up to ``max_products_per_producer`` products. Every candidate's score has visible
parts and reasons, stored with the invitation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

TRANSITIONS = {
    "draft": {"published", "cancelled"},
    "published": {"inviting", "cancelled"},
    "inviting": {"closed", "cancelled"},
    "closed": {"held", "cancelled"},
    "held": set(),
    "cancelled": set(),
}


class RuleError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none"
        raise RuleError("status", f"cannot go from {current} to {target}; allowed: {allowed}")


def check_dates(starts_on: date, ends_on: date, invitation_deadline: datetime) -> None:
    if ends_on < starts_on:
        raise RuleError("ends_on", "is before starts_on")
    if invitation_deadline.date() > starts_on:
        raise RuleError("invitation_deadline", "is after the fair starts")


@dataclass(frozen=True)
class Rules:
    min_stars: int = 3
    groups: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    producer_kinds: tuple[str, ...] = ()
    max_products_per_producer: int = 3


@dataclass(frozen=True)
class Candidate:
    product_id: str
    product_name: str
    producer_id: str
    producer_name: str
    producer_kind: str
    group: int
    province: str
    region: str
    stars: int
    valid_until: date
    status: str = "current"


@dataclass
class Pick:
    producer_id: str
    products: list[Candidate]
    score: float
    parts: dict
    reasons: list[str] = field(default_factory=list)


def why_not(c: Candidate, rules: Rules, fair_ends_on: date) -> list[str]:
    """Every rule the candidate fails, in words (empty when eligible)."""
    out = []
    if c.status != "current":
        out.append(f"certificate is {c.status}")
    if c.stars < rules.min_stars:
        out.append(f"{c.stars}★ is below the fair's minimum of {rules.min_stars}★")
    if rules.groups and c.group not in rules.groups:
        out.append(f"group {c.group} is not admitted")
    if rules.regions and c.region not in rules.regions:
        out.append(f"region {c.region} is not admitted")
    if rules.provinces and c.province not in rules.provinces:
        out.append(f"province {c.province} is not admitted")
    if rules.producer_kinds and c.producer_kind not in rules.producer_kinds:
        out.append(f"producer kind {c.producer_kind} is not admitted")
    if c.valid_until < fair_ends_on:
        out.append(f"certificate expires {c.valid_until.isoformat()}, before the fair ends")
    return out


def score(c: Candidate, fair_ends_on: date) -> tuple[float, dict]:
    parts = {"stars": float(c.stars * 10),
             "freshness": round(min((c.valid_until - fair_ends_on).days, 1095) / 1095 * 5, 3)}
    return round(sum(parts.values()), 3), parts


def match(candidates: list[Candidate], rules: Rules, fair_ends_on: date) -> list[Pick]:
    """Eligible producers, best first; each with its best products (deterministic order)."""
    by_producer: dict[str, list[tuple[float, dict, Candidate]]] = {}
    for c in candidates:
        if not why_not(c, rules, fair_ends_on):
            s, parts = score(c, fair_ends_on)
            by_producer.setdefault(c.producer_id, []).append((s, parts, c))
    picks = []
    for producer_id, scored in by_producer.items():
        scored.sort(key=lambda t: (-t[0], t[2].product_id))
        best = scored[: rules.max_products_per_producer]
        top_score, top_parts, top = best[0]
        reasons = [f"{top.product_name}: {top.stars}★, meets every rule of the fair",
                   f"certificate valid until {top.valid_until.isoformat()}"]
        picks.append(Pick(producer_id, [t[2] for t in best], top_score, top_parts, reasons))
    picks.sort(key=lambda p: (-p.score, p.producer_id))
    return picks
