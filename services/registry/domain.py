"""Registry domain rules: plain Python, no Flask or SQLAlchemy, unit-tested alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from shared.text import fold

REFERENCE = Path(__file__).parent / "reference"
VALIDITY_MONTHS = 36
CERTIFIED_MIN_STARS = 3


class DomainError(ValueError):
    """A rule was broken; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CriteriaVersion:
    code: str
    title: str
    effective_from: date
    effective_to: date | None
    # (min_score, stars), checked from the top band down
    bands: tuple[tuple[int, int], ...]

    def stars_for(self, score: int) -> int:
        if not 0 <= score <= 100:
            raise DomainError("score", "must be between 0 and 100")
        for minimum, stars in self.bands:
            if score >= minimum:
                return stars
        return 1


CRITERIA = {
    "148/QĐ-TTg": CriteriaVersion("148/QĐ-TTg", "Quyết định 148/QĐ-TTg ngày 24/02/2023", date(2023, 2, 24), None,
                                  ((90, 5), (70, 4), (50, 3), (30, 2), (0, 1))),
    "1048/QĐ-TTg": CriteriaVersion("1048/QĐ-TTg", "Quyết định 1048/QĐ-TTg ngày 21/8/2019", date(2019, 8, 21),
                                   date(2023, 2, 23), ((90, 5), (70, 4), (50, 3), (30, 2), (0, 1))),
}


def criteria(code: str) -> CriteriaVersion:
    try:
        return CRITERIA[code]
    except KeyError:
        raise DomainError("criteria_version", f"unknown criteria version; known: {', '.join(CRITERIA)}") from None


def derive_stars(criteria_version: str, score: int, claimed: int | None) -> int:
    stars = criteria(criteria_version).stars_for(score)
    if claimed is not None and claimed != stars:
        raise DomainError("stars", f"{claimed}★ disagrees with score {score}, which is {stars}★ under "
                                   f"{criteria_version}")
    if stars < CERTIFIED_MIN_STARS:
        raise DomainError("score", f"score {score} is {stars}★; only 3★ and above are certified OCOP")
    return stars


def add_months(d: date, months: int) -> date:
    month_index = d.month - 1 + months
    year, month = d.year + month_index // 12, month_index % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def valid_until(decision_date: date) -> date:
    return add_months(decision_date, VALIDITY_MONTHS)


def check_decision_date(decision_date: date, today: date) -> None:
    if decision_date > today:
        raise DomainError("decision_date", "is in the future")


def level_for(stars: int) -> str:
    return "national" if stars == 5 else "province"


@dataclass(frozen=True)
class Province:
    name: str          # current (post-2025) province
    region: str
    entered_as: str    # the name as entered (an old province keeps its name for display)


@lru_cache(maxsize=1)
def _provinces() -> tuple[dict, dict]:
    data = json.loads((REFERENCE / "provinces.json").read_text(encoding="utf-8"))
    by_fold: dict[str, tuple[str, str, str]] = {}
    for name, info in data["provinces"].items():
        for old in info["predecessors"]:
            by_fold[_province_key(old)] = (name, info["region"], old)
        by_fold[_province_key(name)] = (name, info["region"], name)
    return by_fold, data["regions"]


# Administrative prefixes, folded: "Tỉnh Bến Tre", "tinh ben tre", "Thành phố Cần Thơ", "TP. Huế".
_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp ")


def _province_key(entered: str) -> str:
    """The lookup key: folded, without an administrative prefix, "Bà Rịa-Vũng Tàu" as "ba ria - vung tau"."""
    key = fold(entered.replace("–", "-").replace("—", "-").replace("-", " - "))
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key.removeprefix(prefix).strip()
    return key


def resolve_province(entered: str) -> Province:
    """Current province for a name, old or new, typed with or without diacritics or a prefix."""
    by_fold, _ = _provinces()
    hit = by_fold.get(_province_key(entered))
    if hit is None:
        raise DomainError("province", f"unknown province {entered!r}")
    return Province(name=hit[0], region=hit[1], entered_as=hit[2])


def regions() -> dict[str, str]:
    return dict(_provinces()[1])
