"""The reasons a pick gives for itself, in words (an invitation carries them; preview and explain show them)."""

from __future__ import annotations

from ..eligibility import admitted_as
from .terms import Candidate, FairTerms, History


def reasons(top: Candidate, fair: FairTerms, h: History, relation: str) -> list[str]:
    how = admitted_as(top, fair)
    if how == "provincial_key":
        out = [f"{top.product_name}: a provincial key product, which the fair admits whatever its stars"]
    elif how == "potential_ocop":
        out = [f"{top.product_name}: not yet certified (potential OCOP), which the fair admits"]
    else:
        out = [
            f"{top.product_name}: {top.stars}★, meets every rule of the fair",
            f"certificate valid until {top.valid_until.isoformat()}",
        ]
    if h.invited or h.exhibited:
        out.append(f"invited {h.invited} and exhibited {h.exhibited} times in the last 12 months")
    else:
        out.append("not invited to any fair in the last 12 months")
    where = {"host": "the host region", "near": "a neighbouring region", "far": "a far region"}[relation]
    out.append(f"from {where} ({top.region})")
    share = fair.rules.quota(top.group)
    if share is not None:
        out.append(f"group {top.group} may take at most {share:.0%} of the booths")
    return out
