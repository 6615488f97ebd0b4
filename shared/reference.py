"""Reference data every service reads the same way: provinces (with their pre-2025 names) and
regions, product groups and their sub-groups.

The data files belong to the registry (``services/registry/reference/``: it records producers and
products against them), but they are data, not code: this loader only reads the JSON, so a service
that needs to resolve a province or check a sub-group code does it exactly as the registry does,
without importing the registry's code or touching its database. Edit the files and restart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
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
    name: str          # current (post-July-2025) province
    region: str
    entered_as: str    # the name as entered, canonical spelling (an old province keeps its name)


# Administrative prefixes, folded: "Tỉnh Bến Tre", "tinh ben tre", "Thành phố Cần Thơ", "TP. Huế".
_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp ")


def province_key(entered: str) -> str:
    """The lookup key: folded, without an administrative prefix, "Bà Rịa-Vũng Tàu" as "ba ria - vung tau"."""
    key = fold(entered.replace("–", "-").replace("—", "-").replace("-", " - "))
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key.removeprefix(prefix).strip()
    return key


@lru_cache(maxsize=1)
def _provinces() -> tuple[dict[str, tuple[str, str, str]], dict[str, str], dict[str, str]]:
    data = json.loads((REFERENCE / "provinces.json").read_text(encoding="utf-8"))
    by_key: dict[str, tuple[str, str, str]] = {}
    for name, info in data["provinces"].items():
        for old in info["predecessors"]:
            by_key[province_key(old)] = (name, info["region"], old)
        by_key[province_key(name)] = (name, info["region"], name)
    current = {name: info["region"] for name, info in data["provinces"].items()}
    return by_key, dict(data["regions"]), current


def resolve_province(entered: str) -> Province:
    """The current province for a name, old or new, typed with or without diacritics or a prefix."""
    hit = _provinces()[0].get(province_key(entered))
    if hit is None:
        raise UnknownName(f"unknown province {entered!r}")
    return Province(*hit)


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
