"""What matching knows of a product, a fair and a producer: ``Candidate``, ``Rules``, ``FairTerms``,
``History``, the score's points and the regions' neighbours. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..domain import LONG_RUNNING

STAR_POINTS = 10.0
FRESHNESS_POINTS = 5.0
FRESHNESS_HORIZON_DAYS = 1095
FAIRNESS_POINTS = 15.0
QUOTA_POINTS = 10.0
DEFAULT_REGIONAL_WEIGHTS = {"host": 6.0, "near": 3.0, "far": 0.0}

# Which socio-economic regions border which (for the regional policy's "near").
NEIGHBOURS = {
    "northern_midlands_mountains": {"red_river_delta", "north_central_coast"},
    "red_river_delta": {"northern_midlands_mountains", "north_central_coast"},
    "north_central_coast": {"northern_midlands_mountains", "red_river_delta", "central_highlands", "southeast"},
    "central_highlands": {"north_central_coast", "southeast"},
    "southeast": {"north_central_coast", "central_highlands", "mekong_delta"},
    "mekong_delta": {"southeast"},
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One product as matching sees it (a row of the events service's read model)."""

    product_id: str
    product_name: str
    producer_id: str
    producer_name: str
    producer_kind: str
    group: int
    province: str
    region: str
    stars: int
    valid_until: date | None
    status: str = "current"  # current, revoked, expired, or uncertified (never certified)
    subgroup: str | None = None
    potential_five_star: bool = False
    provincial_key: bool = False  # designated a provincial key product (sản phẩm chủ lực cấp tỉnh)


@dataclass(frozen=True)
class Rules:
    """A fair's eligibility rules and matching policy (stored as JSON on the fair)."""

    min_stars: int = 3
    admit_uncertified: bool = False
    admit_provincial_key: bool = False  # Decision 950/QĐ-BCT: provincial key products, whatever their stars
    groups: tuple[int, ...] = ()
    subgroups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    producer_kinds: tuple[str, ...] = ()
    valid_through_end: bool = True
    max_products_per_producer: int = 3
    max_booths_per_producer: int = 1
    group_quotas: tuple[tuple[int, float], ...] = ()  # (group, largest share of the booths)
    regional_weights: tuple[float, float, float] = (
        DEFAULT_REGIONAL_WEIGHTS["host"],
        DEFAULT_REGIONAL_WEIGHTS["near"],
        DEFAULT_REGIONAL_WEIGHTS["far"],
    )
    overbooking_percent: int = 0
    waitlist_size: int | None = None
    top_up: bool = True

    @classmethod
    def from_dict(cls, d: dict | None) -> Rules:
        d = d or {}
        weights = {**DEFAULT_REGIONAL_WEIGHTS, **(d.get("regional_weights") or {})}
        return cls(
            min_stars=d.get("min_stars", 3),
            admit_uncertified=d.get("admit_uncertified", False),
            admit_provincial_key=d.get("admit_provincial_key", False),
            groups=tuple(d.get("groups") or ()),
            subgroups=tuple(d.get("subgroups") or ()),
            regions=tuple(d.get("regions") or ()),
            provinces=tuple(d.get("provinces") or ()),
            producer_kinds=tuple(d.get("producer_kinds") or ()),
            valid_through_end=d.get("valid_through_end", True),
            max_products_per_producer=d.get("max_products_per_producer", 3),
            max_booths_per_producer=d.get("max_booths_per_producer", 1),
            group_quotas=tuple(sorted((int(g), float(s)) for g, s in (d.get("group_quotas") or {}).items())),
            regional_weights=(float(weights["host"]), float(weights["near"]), float(weights["far"])),
            overbooking_percent=d.get("overbooking_percent", 0),
            waitlist_size=d.get("waitlist_size"),
            top_up=d.get("top_up", True),
        )

    def quota(self, group: int) -> float | None:
        for g, share in self.group_quotas:
            if g == group:
                return share
        return None

    def admitted_groups(self) -> frozenset[int]:
        """Groups admitted at all: those listed, else those of the listed sub-groups, else every group."""
        if self.groups:
            return frozenset(self.groups)
        if self.subgroups:
            return frozenset(int(code.split(".")[0]) for code in self.subgroups)
        return frozenset()


@dataclass(frozen=True)
class FairTerms:
    """What matching needs to know of a fair."""

    fair_id: str
    kind: str
    starts_on: date
    ends_on: date
    region: str
    capacity: int
    rules: Rules = field(default_factory=Rules)

    @property
    def issue_limit(self) -> int:
        """Booths' worth of invitations out at once: the capacity, plus the overbooking allowance."""
        return self.capacity * (100 + self.rules.overbooking_percent) // 100

    def group_limit(self, group: int, of: int | None = None) -> int | None:
        share = self.rules.quota(group)
        return None if share is None else int(share * (self.capacity if of is None else of) + 1e-9)

    @property
    def waitlist_size(self) -> int:
        return self.rules.waitlist_size if self.rules.waitlist_size is not None else max(20, 2 * self.capacity)


@dataclass(frozen=True, slots=True)
class History:
    """A producer's last 12 months: invitations received and fairs exhibited at."""

    invited: int = 0
    exhibited: int = 0


def overlaps(kind_a: str, a: tuple[date, date], kind_b: str, b: tuple[date, date]) -> bool:
    """Two fairs keep a producer busy at once: both staffed (not showcase points) and their dates meet."""
    if kind_a in LONG_RUNNING or kind_b in LONG_RUNNING:
        return False
    return a[0] <= b[1] and b[0] <= a[1]
