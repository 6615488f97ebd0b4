"""Season planning: a season of fairs matched at once, spreading invitations across producers and
regions. ``planning`` is the plan itself (pure, unit-tested alone); ``queries`` plans on the read
model and reports (POST /seasons/preview), ``operations`` acts on a plan (POST /seasons/apply);
``routes`` and ``schemas`` are its HTTP side. This module is the package's interface to the plan."""

from __future__ import annotations

from .planning import Choice, Plan, Spread, decisions, gini, greedy, plan, spread

__all__ = ["Choice", "Plan", "Spread", "decisions", "gini", "greedy", "plan", "spread"]
