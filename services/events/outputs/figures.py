"""Programme figures: the pure computations (no Flask, no SQLAlchemy), unit-tested alone.
``outputs.py`` gathers the counts with SQL aggregates and hands them here.

Definitions (README, "Programme figures"):

- an *invitation* is one actually offered to a producer (issued at some point: then accepted,
  declined, expired, withdrawn or still open); a waitlisted place never offered is not;
- an *acceptance* is an invitation accepted and still standing;
- *fill rate* is booths assigned over capacity; *subsidy committed* is booths assigned times the
  fair's subsidy per booth, set against the fair's budget;
- *fairness*: of the producers eligible during the period (a product certified in the read
  model at some time in it), the share invited at least once; and how unevenly the invitations
  are spread over the eligible producers and any others invited (Gini coefficient over the
  invitations per producer, zeros included, and the share of all invitations that went to the
  top 10% of those producers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ..domain import RuleError


def ratio(part: float, whole: float, digits: int = 4) -> float | None:
    """part / whole, rounded; None when there is no whole to compare with."""
    if not whole:
        return None
    return round(part / whole, digits)


def gini(values: Iterable[float]) -> float:
    """Gini coefficient of non-negative amounts: 0 when everyone has the same, towards 1 when one
    has everything (exactly 1 - 1/n then). 0 for no one or nothing to share.

    G = (2 Σ i·x_i) / (n Σ x) − (n + 1) / n over the amounts in ascending order, i = 1..n.
    """
    xs = sorted(float(v) for v in values)
    if any(x < 0 for x in xs):
        raise ValueError("gini: amounts must not be negative")
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum(i * x for i, x in enumerate(xs, start=1))
    return round(2 * weighted / (n * total) - (n + 1) / n, 4)


def top_share(values: Iterable[float], fraction: float = 0.1) -> float | None:
    """Share of the total held by the top ``fraction`` of the holders (at least one holder, the
    count rounded up: the top 10% of 15 producers are 2). None when there is nothing to share."""
    if not 0 < fraction <= 1:
        raise ValueError("top_share: fraction must be in (0, 1]")
    xs = sorted((float(v) for v in values), reverse=True)
    total = sum(xs)
    if not xs or total == 0:
        return None
    k = max(1, math.ceil(len(xs) * fraction - 1e-9))
    return round(sum(xs[:k]) / total, 4)


@dataclass(frozen=True)
class Fairness:
    eligible_producers: int
    invited_producers: int  # invited at least once, eligible or not
    eligible_invited: int  # eligible and invited at least once
    invited_share: float | None  # eligible_invited / eligible_producers
    invitations: int
    spread_over: int  # producers the Gini and top-10% are computed over
    gini: float
    top10_share: float | None
    max_per_producer: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def fairness(eligible: Iterable[str], invitations_per_producer: Mapping[str, int]) -> Fairness:
    """Fairness of a period's invitations over its eligible producers (see the module's notes)."""
    eligible = set(eligible)
    counts = {p: n for p, n in invitations_per_producer.items() if n > 0}
    population = eligible | set(counts)
    amounts = [counts.get(p, 0) for p in population]
    eligible_invited = len(eligible & set(counts))
    return Fairness(
        eligible_producers=len(eligible),
        invited_producers=len(counts),
        eligible_invited=eligible_invited,
        invited_share=ratio(eligible_invited, len(eligible)),
        invitations=sum(counts.values()),
        spread_over=len(population),
        gini=gini(amounts),
        top10_share=top_share(amounts, 0.1),
        max_per_producer=max(amounts, default=0),
    )


@dataclass
class Tally:
    """Invitations and acceptances under one key (a region, a province, a group, a kind)."""

    key: str
    invitations: int = 0
    acceptances: int = 0

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "invitations": self.invitations,
            "acceptances": self.acceptances,
            "acceptance_rate": ratio(self.acceptances, self.invitations),
        }


def tallies(rows: Iterable[tuple], order: Iterable[str] = ()) -> list[dict]:
    """``(key, invitations, acceptances)`` rows, several per key allowed, summed per key. Keys in
    ``order`` come first in that order (e.g. the regions as the contracts list them), then the
    rest by most invitations, then by key; a missing key is "unknown"."""
    by_key: dict[str, Tally] = {}
    for key, invited, accepted in rows:
        name = "unknown" if key is None else str(key)
        t = by_key.setdefault(name, Tally(name))
        t.invitations += int(invited or 0)
        t.acceptances += int(accepted or 0)
    first = [k for k in order if k in by_key]
    rest = sorted((k for k in by_key if k not in set(first)), key=lambda k: (-by_key[k].invitations, k))
    return [by_key[k].as_dict() for k in first + rest]


def fair_figures(capacity: int, booths_assigned: int, subsidy_per_booth: int, budget: int | None) -> dict:
    """Fill rate and subsidy of one fair (or of several summed)."""
    committed = booths_assigned * subsidy_per_booth
    return {
        "capacity": capacity,
        "booths_assigned": booths_assigned,
        "fill_rate": ratio(booths_assigned, capacity),
        "subsidy_committed": committed,
        "budget": budget,
        "budget_used": ratio(committed, budget) if budget is not None else None,
        "budget_left": budget - committed if budget is not None else None,
    }


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), the month's last day where it has no such day."""
    import calendar

    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


CERTIFICATE_MONTHS = 36


def certified_window(start: date, end: date) -> tuple[date, date]:
    """The certificates valid at some time in ``[start, end]``, as bounds on their ``valid_until``
    (the read model keeps that, not the decision date; a certificate runs 36 months from its
    decision): ``start <= valid_until <= end + 36 months``."""
    return start, add_months(end, CERTIFICATE_MONTHS)


# The years a period may cover, as the ``year`` parameter's: the programme's figures are counted in
# them, and a certificate's window past the end (36 months) stays a real date (9999-12-31 was a 500).
FIRST_YEAR, LAST_YEAR = 2008, 2100


def period(year: int | None, start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for: a year, or a range (both ends inclusive, within the years 2008 to
    2100), or this year."""
    if year is not None:
        return date(year, 1, 1), date(year, 12, 31)
    if start is None and end is None:
        return date(today.year, 1, 1), date(today.year, 12, 31)
    if start is None or end is None:
        raise RuleError("from" if start is None else "to", "give both ends of the range (from and to), or a year")
    for name, day in (("from", start), ("to", end)):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise RuleError(name, f"{day.isoformat()} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    if end < start:
        raise RuleError("to", f"{end.isoformat()} is before from ({start.isoformat()})")
    return start, end
