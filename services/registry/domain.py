"""Registry domain rules: plain Python, no Flask or SQLAlchemy, unit-tested alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from shared import reference
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
class Group:
    code: int
    name: str
    name_en: str
    subgroups: dict[str, tuple[str, str]]  # code -> (Vietnamese name, English name)


@dataclass(frozen=True)
class CriteriaVersion:
    """One decision's criteria, loaded from reference/criteria.json (data, not code)."""

    code: str
    title: str
    effective_from: date
    effective_to: date | None  # None: still in force
    parts: dict[str, int]  # score part -> its maximum ("a": 40, ...)
    # (min_score, stars), checked from the top band down
    bands: tuple[tuple[int, int], ...]
    groups: dict[int, Group]

    def stars_for(self, score: int) -> int:
        if not 0 <= score <= 100:
            raise DomainError("score", "must be between 0 and 100")
        for minimum, stars in self.bands:
            if score >= minimum:
                return stars
        return 1

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def period(self) -> str:
        end = self.effective_to.strftime("%d/%m/%Y") if self.effective_to else "now"
        return f"{self.effective_from.strftime('%d/%m/%Y')} to {end}"


def load_criteria(path: Path) -> dict[str, CriteriaVersion]:
    """Read and check a criteria file: every version's parts add up to 100, bands start at 0, and
    the periods do not overlap. A broken file fails at start-up, not at the first evaluation."""
    data = json.loads(path.read_text(encoding="utf-8"))
    versions: dict[str, CriteriaVersion] = {}
    for v in data["versions"]:
        parts = {key: int(part["max"]) for key, part in v["parts"].items()}
        bands = tuple(sorted(((int(minimum), int(stars)) for stars, minimum in v["bands"].items()), reverse=True))
        groups = {
            int(code): Group(
                int(code),
                g["name"],
                g["name_en"],
                {sc: (sg["name"], sg["name_en"]) for sc, sg in g["subgroups"].items()},
            )
            for code, g in v["groups"].items()
        }
        version = CriteriaVersion(
            v["code"],
            v["title"],
            date.fromisoformat(v["effective_from"]),
            date.fromisoformat(v["effective_to"]) if v["effective_to"] else None,
            parts,
            bands,
            groups,
        )
        if sum(parts.values()) != 100 or bands[-1][0] != 0:
            raise ValueError(f"{path}: {version.code}: parts must add up to 100 and the lowest band start at 0")
        versions[version.code] = version
    ordered = sorted(versions.values(), key=lambda c: c.effective_from)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
            raise ValueError(f"{path}: {earlier.code} and {later.code} overlap")
    return versions


CRITERIA = load_criteria(REFERENCE / "criteria.json")


def criteria(code: str) -> CriteriaVersion:
    try:
        return CRITERIA[code]
    except KeyError:
        raise DomainError("criteria_version", f"unknown criteria version; known: {', '.join(CRITERIA)}") from None


def criteria_on(day: date, field: str = "decision_date") -> CriteriaVersion:
    """The criteria version in force on a day."""
    for version in CRITERIA.values():
        if version.in_force_on(day):
            return version
    raise DomainError(field, f"no OCOP criteria version was in force on {day.strftime('%d/%m/%Y')}")


def criteria_for_decision(code: str | None, decision_date: date) -> CriteriaVersion:
    """The version an evaluation was made under: the one named, which must have been in force on
    the decision date, or else the one in force then."""
    if code is None:
        return criteria_on(decision_date)
    version = criteria(code)
    if not version.in_force_on(decision_date):
        raise DomainError(
            "criteria_version",
            f"{code} applies to decisions dated {version.period()}, not {decision_date.strftime('%d/%m/%Y')}",
        )
    return version


def check_score_parts(version: CriteriaVersion, parts: dict[str, int] | None, score: int) -> None:
    if not parts:
        return
    if set(parts) != set(version.parts):
        raise DomainError("score_parts", f"{version.code} scores in parts {', '.join(sorted(version.parts))}")
    for key, value in sorted(parts.items()):
        if not 0 <= value <= version.parts[key]:
            raise DomainError(f"score_parts.{key}", f"must be between 0 and {version.parts[key]} under {version.code}")
    if sum(parts.values()) != score:
        raise DomainError("score_parts", f"parts add up to {sum(parts.values())}, not the score {score}")


def check_group(version: CriteriaVersion, group: int, subgroup: str | None) -> str | None:
    """Check a product group and sub-group against a criteria version; returns the sub-group's code.
    A sub-group may be given by its code ("1.3") or its name, with or without diacritics."""
    if group not in version.groups:
        raise DomainError(
            "group",
            f"unknown product group {group}; {version.code} has groups "
            f"{', '.join(str(g) for g in sorted(version.groups))}",
        )
    if subgroup is None or not subgroup.strip():
        return None
    known = version.groups[group].subgroups
    wanted = fold(subgroup)
    for code, (name, name_en) in known.items():
        if wanted in (code, fold(name), fold(name_en)):
            return code
    listing = "; ".join(f"{code} {name}" for code, (name, _) in known.items())
    raise DomainError(
        "subgroup", f"{subgroup!r} is not a sub-group of group {group} under {version.code}; known: {listing}"
    )


# ---- who certifies what (DOMAIN.md: "Stars and scores") -----------------------------------------
# Which level certifies which stars is the procedure in force on the decision's date, reference data
# (procedures.json, shared/reference.py): since 1 July 2025 (Decision 1489/QĐ-TTg) the commune only
# pre-checks the dossier, the province certifies 3★ and 4★ and the national level 5★.
LEVELS = reference.LEVELS
FIVE_STARS = 5
POTENTIAL_STARS = 4  # "potential 5★" is a status of 4★ products sent up for national evaluation


@dataclass(frozen=True)
class Grant:
    """What an evaluation grants: its stars, and whether the decision proposes the product for
    national evaluation (a provincial score in the 5★ band: 4★ and "potential 5★")."""

    stars: int
    proposed_for_national: bool


def _stars_listing(stars: tuple[int, ...]) -> str:
    return " and ".join(f"{n}★" for n in stars) if stars else "nothing (it checks dossiers)"


def procedure_on(day: date) -> reference.Procedure:
    try:
        return reference.procedure_on(day)
    except reference.UnknownName as exc:
        raise DomainError("decision_date", str(exc)) from None


def check_level_certifies(level: str, day: date) -> None:
    """A decision of ``level`` dated ``day`` can certify something under the procedure then in force."""
    procedure = procedure_on(day)
    if not procedure.levels().get(level):
        known = ", ".join(f"{lv} ({_stars_listing(st)})" for lv, st in procedure.levels().items())
        raise DomainError(
            "level",
            f"a {level} decision certifies no OCOP product under {procedure.code} "
            f"(in force on {day.strftime('%d/%m/%Y')}); levels: {known}",
        )


def grant_for(criteria_version: str, score: int, claimed: int | None, level: str, day: date) -> Grant:
    """The stars a decision of ``level`` dated ``day`` grants for ``score``. Only the level that
    certifies 5★ (the national one) does: a lower level's score in the 5★ band is 4★, proposing the
    product for national evaluation. A level certifies only its own stars; the commune none."""
    band = criteria(criteria_version).stars_for(score)
    if band < CERTIFIED_MIN_STARS:
        raise DomainError("score", f"score {score} is {band}★; only 3★ and above are certified OCOP")
    check_level_certifies(level, day)
    procedure = procedure_on(day)
    certifies = procedure.levels()[level]
    proposed = band == FIVE_STARS and band not in certifies and POTENTIAL_STARS in certifies
    stars = POTENTIAL_STARS if proposed else band
    if stars not in certifies:
        by = ", ".join(reference.certifying_levels(band, day)) or "no level"
        raise DomainError(
            "score",
            f"score {score} is {band}★, which a {level} decision does not certify under "
            f"{procedure.code} (it certifies {_stars_listing(certifies)}; {band}★: {by})",
        )
    if claimed is not None and claimed != stars:
        if proposed and claimed == FIVE_STARS:
            raise DomainError(
                "stars",
                f"only the national level certifies 5★; score {score} in a {level} decision "
                f"is {stars}★, proposed for national evaluation (potential 5★)",
            )
        raise DomainError(
            "stars",
            f"{claimed}★ disagrees with score {score}, which is {stars}★ under "
            f"{criteria_version} in a {level} decision",
        )
    return Grant(stars, proposed_for_national=proposed)


def check_potential_five_star(flagged: bool, current_stars: int | None) -> None:
    """The "potential 5★" flag is for products whose current certification is 4★."""
    if flagged and current_stars != POTENTIAL_STARS:
        held = f"holds {current_stars}★" if current_stars else "has no current certification"
        raise DomainError(
            "potential_five_star",
            f"only a product whose current certification is 4★ can be proposed for 5★; this one {held}",
        )


def potential_after(flagged: bool, stars: int | None, proposed: bool = False) -> bool:
    """The flag once the current certification changes to ``stars`` (None: none is current): set
    when the decision proposes the product, kept while it stays 4★, cleared otherwise (5★
    reached, fewer stars, revoked or expired)."""
    if stars != POTENTIAL_STARS:
        return False
    return flagged or proposed


# ---- decisions (one decision lists many products) ------------------------------------------------
DECISION_KINDS = ("certify", "recertify", "upgrade", "revoke")
# The decision kind of each certification kind; a "certify" decision (công nhận) may list products
# evaluated for any reason, the others only their own kind.
DECISION_KIND_OF = {"new": "certify", "recertification": "recertify", "upgrade": "upgrade"}
# Why a certificate is revoked (thu hồi), DOMAIN.md: "Certificate lifecycle".
# code -> the words recorded when none are given.
REVOCATION_REASONS = {
    "violation": "Vi phạm quy định (violation)",
    "production_stopped": "Ngừng sản xuất (production stopped)",
    "not_re_evaluated_36_months": "Không đánh giá lại trong 36 tháng (not re-evaluated within 36 months)",
}


def check_decision_carries(decision_kind: str, cert_kind: str) -> None:
    if decision_kind == "certify" and cert_kind in DECISION_KIND_OF:
        return
    if DECISION_KIND_OF.get(cert_kind) != decision_kind:
        raise DomainError("kind", f"a {decision_kind} decision cannot carry a {cert_kind} certification")


def decision_kind_for(cert_kinds) -> str:
    """The kind of a decision recorded from its certificates: their own when they agree, else certify."""
    kinds = {DECISION_KIND_OF[k] for k in cert_kinds}
    return kinds.pop() if len(kinds) == 1 else "certify"


def decision_key(issued_by: str, number: str) -> tuple[str, str]:
    """A decision is identified by its authority, number and date; authority and number compare
    without diacritics, case or surrounding spaces ("1358/QĐ-UBND" is "1358/qd-ubnd")."""
    return fold(issued_by)[:200], fold(number)[:100]


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


def resolve_province(entered: str) -> reference.Province:
    """``shared.reference.resolve_province`` (the one resolution of every service), refusing an unknown
    name as a DomainError on ``province``."""
    try:
        return reference.resolve_province(entered)
    except reference.UnknownName:
        raise DomainError("province", f"unknown province {entered!r}") from None
