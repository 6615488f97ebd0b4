"""Matching checked import rows against the register: what an apply does with each row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import batches, new_id
from shared.errors import OperationError
from shared.text import fold

from . import decisions, domain
from . import operations as ops
from .import_convert import CERT_FIELDS
from .import_rows import (
    Checked,
    RowError,
    RowPlan,
)
from .models import Certification, Producer, Product


# ---- against the register --------------------------------------------------------------------
def _same_decision(cert: dict, row: dict) -> bool:
    return (
        fold(cert["decision_number"]) == fold(row["decision_number"])
        and cert["decision_date"] == row["decision_date"]
        and fold(cert["issued_by"]) == fold(row["issued_by"])
    )


class Resolver:
    """Matches the checked rows against the register in a few set-based queries, and decides for
    each row what an apply does. ``lock``: take row locks (an apply) or not (a dry run)."""

    def __init__(self, session: Session, lock: bool):
        self.session = session
        self.lock = lock

    def resolve(self, checked: Checked) -> None:
        existing = self._producers(list(checked.producers))
        for code, plan in checked.producers.items():
            row = existing.get(code)
            if row is not None:
                plan.existing, plan.id = row, row["id"]
            else:
                plan.id, plan.created = new_id(), True
        matched = [p.id for p in checked.producers.values() if p.existing is not None]
        products = self._products(matched)
        certs = self._certifications([p["id"] for p in products.values()])
        kept = []
        for row in checked.rows:
            error = self._decide(row, products, certs)
            if error is not None:
                checked.errors.append(error)
            else:
                kept.append(row)
        checked.rows = kept
        self._decisions(checked)
        checked.errors.sort(key=lambda e: e.line)

    def _decisions(self, checked: Checked) -> None:
        """Each row's decision (authority, number, date): found in the register, where it must be able
        to carry the row's certificate, or to be created (one per decision, the rows agreeing on its level)."""
        kept = []
        for row in checked.rows:
            spec = ops.decision_spec(row.cert)
            key = (*domain.decision_key(spec["issued_by"], spec["number"]), spec["decision_date"])
            plan = checked.decisions.get(key)
            if plan is None:
                found = decisions.find(
                    self.session, spec["issued_by"], spec["number"], spec["decision_date"], lock=self.lock
                )
                plan = checked.decisions[key] = {
                    "existing": found,
                    "id": found.id if found else new_id(),
                    "spec": spec,
                    "line": row.line,
                    "kinds": set(),
                    "created": 0,
                    "rows": 0,
                }
            error = None
            if plan["existing"] is not None and row.action == "created":
                try:
                    decisions.check_fits(plan["existing"], spec)
                except OperationError as exc:
                    error = RowError(
                        row.line,
                        CERT_FIELDS.get(exc.field, exc.field or "decision_number"),
                        exc.message,
                        row.cert.get(exc.field),
                    )
            elif plan["existing"] is None and spec["level"] != plan["spec"]["level"]:
                error = RowError(
                    row.line,
                    "level",
                    f"differs from line {plan['line']} for the same decision ({plan['spec']['level']})",
                    spec["level"],
                )
            if error is not None:
                checked.errors.append(error)
                continue
            plan["rows"] += 1
            if row.action == "created":
                plan["kinds"].add(row.cert["kind"])
                plan["created"] += 1
            row.decision = plan
            kept.append(row)
        checked.rows = kept

    def _decide(self, row: RowPlan, products: dict, certs: dict) -> RowError | None:
        found = products.get((row.producer.id, row.product["name_folded"]))
        if found is None:
            row.product_id, row.product_version, row.cert_id = new_id(), 2, new_id()
            return None
        if found.get("ambiguous"):
            return RowError(
                row.line,
                "product_name",
                f"matches {found['ambiguous']} products of producer "
                f"{row.producer.fields['code']}; correct them in the register "
                "first",
                row.product["name"],
            )
        row.existing_product, row.product_id = found, found["id"]
        for api in ("group", "subgroup"):  # a matched product keeps its own
            mine = row.product[api]
            if api != "group" and api not in row.given:
                continue
            if mine != found[api]:
                return RowError(
                    row.line,
                    api,
                    f"the registered product {found['name']!r} has {api} "
                    f"{found[api]!r}, not {mine!r}; change it with PATCH /products/"
                    f"{found['id']} first",
                    mine,
                )
        history = certs.get(found["id"], [])
        for cert in history:
            if _same_decision(cert, row.cert):
                if (cert["score"], cert["kind"], cert["stars"]) != (
                    row.cert["score"],
                    row.cert["kind"],
                    row.cert["stars"],
                ):
                    return RowError(
                        row.line,
                        "score",
                        f"the product already has a certification under decision "
                        f"{cert['decision_number']} of "
                        f"{cert['decision_date'].strftime('%d/%m/%Y')} with score "
                        f"{cert['score']} ({cert['kind']}); a decision is recorded "
                        "once",
                        row.cert["score"],
                    )
                row.action, row.cert_id, row.product_version = "unchanged", cert["id"], found["version"]
                return None
        current = next((c for c in history if c["status"] == "current"), None)
        try:
            ops.check_replaces(row.cert, current["stars"] if current else None)
        except OperationError as exc:
            detail = ""
            if current is not None:
                detail = (
                    f" (decision {current['decision_number']} of "
                    f"{current['decision_date'].strftime('%d/%m/%Y')}, {current['stars']}★); a "
                    "re-certification or an upgrade replaces it"
                )
            return RowError(row.line, CERT_FIELDS.get(exc.field, "kind"), exc.message + detail, row.cert["kind"])
        found["version"] += 1  # one row per product in a file
        if "potential_five_star" not in row.given:  # the product's own flag, as the new certificate leaves it
            row.product["potential_five_star"] = domain.potential_after(
                found["potential_five_star"], row.cert["stars"], row.cert["proposed_for_national"]
            )
        row.product_version, row.cert_id = found["version"], new_id()
        row.supersedes = current["id"] if current else None
        return None

    def _select(self, query):
        if self.lock:
            query = query.with_for_update()
        return self.session.execute(query).mappings().all()

    def _producers(self, codes: list[str]) -> dict[str, dict]:
        P = Producer
        out = {}
        for chunk in batches(codes):
            for r in self.session.execute(
                select(P.id, P.code, P.name, P.kind, P.province, P.province_entered, P.region).where(P.code.in_(chunk))
            ).mappings():
                out[r["code"]] = dict(r)
        return out

    def _products(self, producer_ids: list[str]) -> dict[tuple[str, str], dict]:
        P = Product
        out: dict[tuple[str, str], dict] = {}
        for chunk in batches(producer_ids):
            for r in self._select(
                select(
                    P.id, P.producer_id, P.name, P.name_folded, P.group, P.subgroup, P.potential_five_star, P.version
                ).where(P.producer_id.in_(chunk))
            ):
                key = (r["producer_id"], r["name_folded"])
                if key in out:
                    out[key]["ambiguous"] = out[key].get("ambiguous", 1) + 1
                else:
                    out[key] = dict(r)
        return out

    def _certifications(self, product_ids: list[str]) -> dict[str, list[dict]]:
        C = Certification
        out: dict[str, list[dict]] = {}
        for chunk in batches(product_ids):
            for r in self._select(
                select(
                    C.id,
                    C.product_id,
                    C.kind,
                    C.score,
                    C.stars,
                    C.status,
                    C.issued_by,
                    C.decision_number,
                    C.decision_date,
                ).where(C.product_id.in_(chunk))
            ):
                out.setdefault(r["product_id"], []).append(dict(r))
        return out
