"""Matching products with a fair: eligibility, a score with visible parts, selection under the
fair's capacity and group quotas, the waitlist. Plain Python, no Flask or SQLAlchemy, unit-tested
alone: what a fair and a product are to matching (``terms``), the ranking (``ranking``), a pick's
reasons in words (``reasons``), selection and the waitlist (``decisions``); the one eligibility
rule is ``eligibility.py``. This module is the package's interface.

Built for size: the database applies the fair's rules and hands over plain tuples of what the
score reads (``selection.rows``); ranking is a few passes over them and a heap of one place per
producer, and a pick with its products, parts and reasons is built only when read (``Ranking``),
so a fair against 200,000 products stays well under a second (bench/match.py) and a season of a
hundred fairs a matter of a minute and a few hundred megabytes (bench/season.py).

The score of a producer's pick (its best products for the fair):

==========  =======================================================================================
part        points
==========  =======================================================================================
stars       10 per star of its best product (an uncertified "potential OCOP" product: 0)
freshness   up to 5: how long the best product's certificate stays valid after the fair (3 years: 5)
fairness    15 / (1 + invitations + exhibitions in the last 12 months): the less a producer has been
            invited or has exhibited, the higher
region      the fair's regional policy: points for the host region, a neighbouring region, a far one
quota_fit   up to 10: 10 × (the group's quota share / the group's share of the eligible producers),
            capped at 10; a group without a quota scores 10
==========  =======================================================================================

Ties are broken by producer id, so the same data always gives the same ranking.
"""

from __future__ import annotations

from ..eligibility import admitted_as, eligibility, failures, why_not
from .decisions import (
    Decision,
    Decisions,
    Load,
    Waiting,
    acceptance_refusal,
    free_booths,
    hold_reason,
    next_to_promote,
    select,
)
from .ranking import (
    NO_HISTORY,
    PARTS,
    Details,
    Pick,
    Ranking,
    Row,
    fairness_points,
    quota_fit,
    rank,
    rank_rows,
    region_relation,
    row_of,
)
from .reasons import reasons
from .terms import (
    DEFAULT_REGIONAL_WEIGHTS,
    FRESHNESS_HORIZON_DAYS,
    FRESHNESS_POINTS,
    NEIGHBOURS,
    STAR_POINTS,
    Candidate,
    FairTerms,
    History,
    Rules,
    overlaps,
)

__all__ = [
    "Candidate",
    "DEFAULT_REGIONAL_WEIGHTS",
    "Decision",
    "Decisions",
    "Details",
    "FRESHNESS_HORIZON_DAYS",
    "FRESHNESS_POINTS",
    "FairTerms",
    "History",
    "Load",
    "NEIGHBOURS",
    "NO_HISTORY",
    "PARTS",
    "Pick",
    "Ranking",
    "Row",
    "Rules",
    "STAR_POINTS",
    "Waiting",
    "acceptance_refusal",
    "admitted_as",
    "eligibility",
    "failures",
    "fairness_points",
    "free_booths",
    "hold_reason",
    "next_to_promote",
    "overlaps",
    "quota_fit",
    "rank",
    "rank_rows",
    "reasons",
    "region_relation",
    "row_of",
    "select",
    "why_not",
]
