"""Fair eligibility: the one rule saying whether a fair admits a product. Plain Python, no Flask or
SQLAlchemy, unit-tested alone.

``failures`` is the rule: a pure function over a fair's rules (``matching.Rules``) and a product's
facts (``matching.Candidate``), giving every rule the product fails, in words. Everything else asks it:

- ``eligibility(fair)``, the predicate ranking candidates in Python uses (``matching.rank``), is
  ``failures`` found empty;
- why-not (``operations.explain``) shows its words;
- the SQL selection (``selection.py``), which applies the rules in the database for speed (a fair
  against 200,000 products), is the same rule written as SQL conditions and is held to this one
  exactly by a property test on random fairs and random catalogues, on SQLite and PostgreSQL
  (tests/integration/test_eligibility.py).

The rule, in order:

1. Standing: a current certificate of at least ``min_stars`` that is valid through the fair's last
   day (``valid_through_end``, else its first); or, when the fair admits them, a product never
   certified ("potential OCOP", ``admit_uncertified``); or, when the fair admits them, a product the
   province designated a provincial key product (sản phẩm chủ lực cấp tỉnh, ``admit_provincial_key``:
   Decision 950/QĐ-BCT's showcase points admit 3★+ products or provincial key products), whatever
   its stars or certificate, unless its certificate was revoked.
2. Groups: listed groups, else the groups of the listed sub-groups, else every group; a group with
   sub-groups listed admits only those sub-groups.
3. Area: a product from any listed source province or any listed region.
4. Producer kinds: listed kinds, else every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .matching import Candidate, FairTerms, Rules


def designated(c: Candidate, rules: Rules) -> bool:
    """The fair admits the product as a provincial key product (not revoked), whatever its stars."""
    return rules.admit_provincial_key and c.provincial_key and c.status != "revoked"


def standing(c: Candidate, rules: Rules, starts_on: date, ends_on: date) -> list[tuple[str, str]]:
    """What keeps the product out on its certificate alone (status, stars, validity); empty when
    its certificate, or its being uncertified at a fair that admits potential OCOP, admits it."""
    return _status(c, rules) + _validity(c, rules, starts_on, ends_on)


def _status(c: Candidate, rules: Rules) -> list[tuple[str, str]]:
    if c.status == "uncertified":
        return (
            []
            if rules.admit_uncertified
            else [
                ("admit_uncertified", "the product is not certified OCOP and the fair admits only certified products")
            ]
        )
    if c.status != "current":
        return [("status", f"certificate is {c.status}")]
    if c.stars < rules.min_stars:
        return [("min_stars", f"{c.stars}★ is below the fair's minimum of {rules.min_stars}★")]
    return []


def _validity(c: Candidate, rules: Rules, starts_on: date, ends_on: date) -> list[tuple[str, str]]:
    if c.status != "current" or c.valid_until is None:
        return []
    if rules.valid_through_end and c.valid_until < ends_on:
        return [
            (
                "valid_through_end",
                f"certificate expires {c.valid_until.isoformat()}, before the fair ends on {ends_on.isoformat()}",
            )
        ]
    if c.valid_until < starts_on:
        return [
            (
                "valid_through_end",
                f"certificate expires {c.valid_until.isoformat()}, before the fair starts on {starts_on.isoformat()}",
            )
        ]
    return []


def failures(c: Candidate, rules: Rules, starts_on: date, ends_on: date) -> list[tuple[str, str]]:
    """Every rule the candidate fails, as (rule, words); empty when the fair admits it. In the order
    status or stars, groups, sub-groups, area, producer kind, validity (a provincial key product the
    fair admits skips status, stars and validity)."""
    keyed = designated(c, rules)
    out = [] if keyed else _status(c, rules)
    admitted = rules.admitted_groups()
    if admitted and c.group not in admitted:
        out.append(("groups", f"group {c.group} is not admitted"))
    elif rules.subgroups:
        own = [code for code in rules.subgroups if code.split(".")[0] == str(c.group)]
        if own and c.subgroup not in own:
            out.append(
                (
                    "subgroups",
                    f"sub-group {c.subgroup or 'not recorded'} is not admitted "
                    f"(group {c.group} admits {', '.join(own)})",
                )
            )
    area = _area_failure(c, rules)
    if area:
        out.append(area)
    if rules.producer_kinds and c.producer_kind not in rules.producer_kinds:
        out.append(("producer_kinds", f"producer kind {c.producer_kind} is not admitted"))
    if not keyed:
        out += _validity(c, rules, starts_on, ends_on)
        if rules.admit_provincial_key and standing(c, rules, starts_on, ends_on):
            out.append(
                (
                    "admit_provincial_key",
                    "a provincial key product whose certificate was revoked"
                    if c.provincial_key
                    else "not a provincial key product (the fair admits those whatever their stars)",
                )
            )
    return out


def _area_failure(c: Candidate, rules: Rules) -> tuple[str, str] | None:
    """Source provinces or regions: a product from any listed province or any listed region is admitted."""
    if not rules.provinces and not rules.regions:
        return None
    if c.province in rules.provinces or c.region in rules.regions:
        return None
    if rules.provinces and rules.regions:
        return (
            "provinces_or_regions",
            f"province {c.province} ({c.region}) is in neither the admitted provinces nor the admitted regions",
        )
    if rules.provinces:
        return ("provinces", f"province {c.province} is not admitted")
    return ("regions", f"region {c.region} is not admitted")


def why_not(c: Candidate, rules: Rules, fair_ends_on: date, fair_starts_on: date | None = None) -> list[str]:
    """Every rule the candidate fails, in words (empty when eligible)."""
    return [words for _, words in failures(c, rules, fair_starts_on or fair_ends_on, fair_ends_on)]


def eligibility(fair: FairTerms) -> Callable[[Candidate], bool]:
    """The fair's rule as a predicate: ``failures`` found empty."""
    rules, starts_on, ends_on = fair.rules, fair.starts_on, fair.ends_on
    return lambda c: not failures(c, rules, starts_on, ends_on)


def admitted_as(c: Candidate, fair: FairTerms) -> str:
    """How the fair admits an eligible product: ``certified`` (its certificate), ``provincial_key``
    (its designation) or ``potential_ocop`` (never certified, the fair admitting those)."""
    if c.status == "current" and not standing(c, fair.rules, fair.starts_on, fair.ends_on):
        return "certified"
    return "provincial_key" if designated(c, fair.rules) else "potential_ocop"
