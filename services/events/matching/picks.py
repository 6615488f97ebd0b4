"""A producer's pick and the parts of its score (split from ranking.py, which re-exports these
names): what a place in a ranking holds, its parts and reasons built when read, and the points."""

from __future__ import annotations

from collections import Counter

from .reasons import reasons
from .terms import FAIRNESS_POINTS, NEIGHBOURS, QUOTA_POINTS, Candidate, History, Rules

PARTS = ("stars", "freshness", "fairness", "region", "quota_fit")


class Pick:
    """One producer's place in a ranking: its best products, booths, score, parts and reasons.

    The parts (a dict) and the reasons (sentences) are built when first read: a ranking of 100,000
    producers reads them for the few hundred it invites or shows, not for all."""

    __slots__ = (
        "producer_id",
        "producer_name",
        "region",
        "group",
        "products",
        "booths",
        "score",
        "rank",
        "_values",
        "_context",
        "_parts",
        "_reasons",
    )

    def __init__(
        self,
        producer_id: str,
        producer_name: str,
        region: str,
        group: int,
        products: list[Candidate],
        booths: int,
        score: float,
        values: tuple,
        context: tuple | None = None,
        rank: int = 0,
    ):
        self.producer_id, self.producer_name, self.region, self.group = producer_id, producer_name, region, group
        self.products, self.booths, self.score, self.rank = products, booths, score, rank
        self._values, self._context, self._parts, self._reasons = values, context, None, None

    @property
    def parts(self) -> dict:
        if self._parts is None:
            self._parts = dict(zip(PARTS, self._values, strict=True))
        return self._parts

    @property
    def reasons(self) -> list[str]:
        if self._reasons is None:
            self._reasons = reasons(*self._context) if self._context else []
        return self._reasons

    def __repr__(self) -> str:
        return f"Pick({self.producer_id!r}, rank={self.rank}, score={self.score})"


# ---- score -----------------------------------------------------------------------------------
def region_relation(producer_region: str, host_region: str) -> str:
    if producer_region == host_region:
        return "host"
    return "near" if producer_region in NEIGHBOURS.get(host_region, ()) else "far"


def fairness_points(h: History) -> float:
    return round(FAIRNESS_POINTS / (1 + h.invited + h.exhibited), 3)


def quota_fit(rules: Rules, demand: Counter, total: int) -> dict[int, float]:
    """Points per group: groups under a quota score less the more their demand exceeds it."""
    fit = {}
    for group, count in demand.items():
        share = rules.quota(group)
        if share is None or total == 0:
            fit[group] = QUOTA_POINTS
        else:
            fit[group] = round(min(1.0, share / (count / total)) * QUOTA_POINTS, 3)
    return fit
