"""Reference data every service reads the same way: provinces (with their pre-2025 names) and
regions, product groups and their sub-groups, and the evaluation procedure (which level certifies
which stars on a given date).

The data files belong to the registry (``services/registry/reference/``: it records producers and
products against them), but they are data, not code: this loader only reads the JSON, so a service
that needs to resolve a province or check a sub-group code does it exactly as the registry does,
without importing the registry's code or touching its database. Edit the files and restart.

The files are checked when this module is imported (every service imports it at start-up): a
broken file stops the service instead of answering wrongly later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from .text import fold

REFERENCE = Path(__file__).resolve().parent.parent / "services" / "registry" / "reference"
GROUPS = (1, 2, 3, 4, 5, 6)
_SUBGROUP_CODE = re.compile(r"^([1-6])\.(\d{1,2})$")


class UnknownName(ValueError):
    pass


@dataclass(frozen=True)
class Province:
    name: str  # current (post-July-2025) province
    region: str  # the record's region: its old province's where the name entered is a pre-2025 one
    entered_as: str  # the name as entered, canonical spelling (an old province keeps its name)


# Administrative prefixes, folded: "Tỉnh Bến Tre", "tinh ben tre", "Thành phố Cần Thơ", "TP. Huế".
_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp ")


def province_key(entered: str) -> str:
    """The lookup key: folded, without an administrative prefix, "Bà Rịa-Vũng Tàu" as "ba ria - vung tau"."""
    key = fold(entered.replace("–", "-").replace("—", "-").replace("-", " - "))
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key.removeprefix(prefix).strip()
    return key


def _check_provinces(data: dict) -> None:
    """Every region known, every pre-2025 province listed once with its own region, a province named
    like one of its predecessors in that predecessor's region, and "straddles" exactly where the
    predecessors' regions differ."""
    known, seen = set(data["regions"]), set()
    for name, info in data["provinces"].items():
        olds = info["predecessors"]
        if not isinstance(olds, dict) or not olds:
            raise ValueError(f"provinces.json: {name}: predecessors must map each old province to its region")
        spread = set(olds.values())
        if not spread | {info["region"]} <= known:
            raise ValueError(f"provinces.json: {name}: unknown region among {sorted(spread | {info['region']})}")
        if name in olds and olds[name] != info["region"]:
            raise ValueError(f"provinces.json: {name}: the old {name} lay in {olds[name]}, not {info['region']}")
        straddles = set(info.get("straddles", ()))
        if (straddles != spread) if len(spread) > 1 else bool(straddles):
            raise ValueError(
                f"provinces.json: {name}: straddles must list {sorted(spread)} "
                f"(the predecessors' regions) exactly when they differ"
            )
        for old in olds:
            if province_key(old) in seen:
                raise ValueError(f"provinces.json: {old} has two successors")
            seen.add(province_key(old))


@lru_cache(maxsize=1)
def _provinces() -> tuple[dict[str, tuple[str, str, str]], dict[str, str], dict[str, str], dict[str, dict]]:
    data = json.loads((REFERENCE / "provinces.json").read_text(encoding="utf-8"))
    _check_provinces(data)
    by_key: dict[str, tuple[str, str, str]] = {}
    for name, info in data["provinces"].items():
        for old, old_region in info["predecessors"].items():
            by_key[province_key(old)] = (name, old_region, old)
        by_key[province_key(name)] = (name, info["region"], name)
    current = {name: info["region"] for name, info in data["provinces"].items()}
    return by_key, dict(data["regions"]), current, data["provinces"]


def resolve_province(entered: str) -> Province:
    """The current province for a name, old or new, typed with or without diacritics or a prefix.
    Its region is the old province's own where the name is a pre-2025 one (the new Tây Ninh lies in
    the Southeast, the old Long An in the Mekong Delta)."""
    hit = _provinces()[0].get(province_key(entered))
    if hit is None:
        raise UnknownName(f"unknown province {entered!r}")
    return Province(*hit)


def is_current_province(entered: str) -> bool:
    """Whether a name (typed as resolve_province accepts it) is one of the 34 current provinces."""
    hit = _provinces()[0].get(province_key(entered))
    return hit is not None and hit[0] == hit[2]


def predecessors(province: str) -> dict[str, str]:
    """A current province's pre-2025 provinces -> each one's region."""
    return dict(_provinces()[3][province]["predecessors"])


def straddling() -> dict[str, list[str]]:
    """The merged provinces whose predecessors lay in different regions -> those regions."""
    return {name: list(info["straddles"]) for name, info in _provinces()[3].items() if info.get("straddles")}


def old_name(province: str, entered: str | None) -> str | None:
    """The pre-2025 name a record keeps, or None when it was entered under its current name."""
    return entered if entered and entered != province else None


def province_label(province: str, entered: str | None, lang: str = "vi") -> str:
    """Both names where a record keeps an old one: "Vĩnh Long (Bến Tre cũ)", in English "Vĩnh Long
    (formerly Bến Tre)"; just the current name otherwise."""
    old = old_name(province, entered)
    if old is None:
        return province
    return f"{province} (formerly {old})" if lang == "en" else f"{province} ({old} cũ)"


def regions() -> dict[str, str]:
    """Region code -> Vietnamese name."""
    return dict(_provinces()[1])


def current_provinces() -> dict[str, str]:
    """Current province -> its region."""
    return dict(_provinces()[2])


@lru_cache(maxsize=1)
def subgroups() -> dict[str, int]:
    """Every sub-group code of every criteria version -> its group ("1.3" -> 1).

    Sub-groups vary with the criteria version, so a fair's rule may name any code some version
    defines. Without the criteria file, any code of the form "<group>.<n>" is accepted."""
    path = REFERENCE / "criteria.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, int] = {}
    for version in data["versions"]:
        for group, info in version["groups"].items():
            for code in info.get("subgroups", {}):
                out[code] = int(group)
    return out


def group_of_subgroup(code: str) -> int:
    """The group a sub-group code belongs to; UnknownName if no criteria version defines it."""
    known = subgroups()
    if known:
        if code not in known:
            raise UnknownName(f"unknown sub-group {code!r}; known: {', '.join(sorted(known))}")
        return known[code]
    match = _SUBGROUP_CODE.match(code)
    if match is None:
        raise UnknownName(f"unknown sub-group {code!r}; a sub-group code looks like 1.3")
    return int(match.group(1))


# ---- the evaluation procedure: which level certifies which stars, by date ------------------------
LEVELS = ("commune", "district", "province", "national")
STARS = (3, 4, 5)  # the certified bands (only 3★ and up are OCOP)


@dataclass(frozen=True)
class Step:
    level: str
    certifies: tuple[int, ...]  # () : the level checks or pre-evaluates, it certifies nothing
    does: str
    does_en: str


@dataclass(frozen=True)
class Procedure:
    """One version of the evaluation procedure (procedures.json): its decision and its dates."""

    code: str
    title: str
    decision_date: date
    effective_from: date
    effective_to: date | None  # None: still in force
    steps: tuple[Step, ...]

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def levels(self) -> dict[str, tuple[int, ...]]:
        return {step.level: step.certifies for step in self.steps}


def load_procedures(path: Path) -> tuple[Procedure, ...]:
    """Read and check a procedures file: known levels, certified stars among 3★–5★ and each of them
    certified by some level, periods in order without gap or overlap, only the last one open."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not set(data["levels"]) <= set(LEVELS):
        raise ValueError(f"{path}: levels must be among {', '.join(LEVELS)}")
    out = []
    for v in data["versions"]:
        steps = tuple(
            Step(s["level"], tuple(int(n) for n in s["certifies"]), s["does"], s["does_en"]) for s in v["steps"]
        )
        procedure = Procedure(
            v["code"],
            v["title"],
            date.fromisoformat(v["decision_date"]),
            date.fromisoformat(v["effective_from"]),
            date.fromisoformat(v["effective_to"]) if v["effective_to"] else None,
            steps,
        )
        certified = [n for step in steps for n in step.certifies]
        if any(step.level not in data["levels"] for step in steps) or len({s.level for s in steps}) != len(steps):
            raise ValueError(f"{path}: {procedure.code}: each step names a different level of {list(data['levels'])}")
        if not set(certified) <= set(STARS) or set(certified) != set(STARS):
            raise ValueError(
                f"{path}: {procedure.code}: the levels must certify 3★, 4★ and 5★ between them, and nothing else"
            )
        out.append(procedure)
    out.sort(key=lambda p: p.effective_from)
    for earlier, later in zip(out, out[1:], strict=False):
        if earlier.effective_to is None or (later.effective_from - earlier.effective_to).days != 1:
            raise ValueError(f"{path}: {earlier.code} must end the day before {later.code} begins")
    if not out or out[-1].effective_to is not None:
        raise ValueError(f"{path}: the latest procedure must be in force (effective_to null)")
    return tuple(out)


PROCEDURES = load_procedures(REFERENCE / "procedures.json")


def procedure_on(day: date) -> Procedure:
    """The procedure in force on a day (by the decision's date); UnknownName before the first one."""
    for procedure in PROCEDURES:
        if procedure.in_force_on(day):
            return procedure
    raise UnknownName(f"no OCOP evaluation procedure was in force on {day.strftime('%d/%m/%Y')}")


def levels_in_force(day: date) -> dict[str, tuple[int, ...]]:
    """The levels of the procedure in force on a day -> the stars each may certify (() : none)."""
    return procedure_on(day).levels()


def certifying_levels(stars: int, day: date) -> tuple[str, ...]:
    """The levels that may certify ``stars`` on a day, lowest first."""
    return tuple(level for level, certifies in levels_in_force(day).items() if stars in certifies)


_provinces()  # check provinces.json at start-up too
