"""The report of a bulk import (imports.py): what a dry run found or an apply did, row by row, the
decisions the file names, and earlier applies of the same file."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import domain
from .import_convert import as_text
from .import_rows import _INVALID, Checked
from .models import ImportRecord

MAX_ERRORS = 200  # errors a report lists (error_count counts them all)
MAX_SHOWN = 200  # characters of a cell's value, or of a message, a report quotes


def summary(checked: Checked) -> dict:
    used = {r.producer.fields["code"]: r.producer for r in checked.rows}
    new_certs = [r for r in checked.rows if r.action == "created"]
    new_producers = sum(1 for p in used.values() if p.created)
    new_products = sum(1 for r in checked.rows if r.existing_product is None)
    return {
        "producers": {"created": new_producers, "matched": len(used) - new_producers},
        "products": {"created": new_products, "matched": len(checked.rows) - new_products},
        "certifications": {
            "created": len(new_certs),
            "unchanged": len(checked.rows) - len(new_certs),
            "superseded": sum(1 for r in new_certs if r.supersedes),
        },
        "events": new_producers + new_products + len(new_certs),
    }


def _report(checked: Checked, filename: str, sha: str, apply: bool, session: Session) -> dict:
    table = checked.table
    header_of = {name: table.header[i] for i, name in checked.columns.items()}
    counts = summary(checked)
    previous = (
        session.execute(select(ImportRecord).where(ImportRecord.sha256 == sha).order_by(ImportRecord.applied_at))
        .scalars()
        .all()
    )
    bad = len({e.line for e in checked.errors})
    shown = checked.errors[:MAX_ERRORS]
    report = {
        "dry_run": not apply,
        "applied": False,
        "valid": not checked.errors,
        "import_id": None,
        "file": {
            "name": filename,
            "format": table.format,
            "sha256": sha,
            "rows": len(table.rows),
            "columns": {table.header[i]: name for i, name in checked.columns.items()},
        },
        "summary": counts,
        "error_count": len(checked.errors),
        "rows_with_errors": bad,
        "errors": [
            {
                "line": e.line,
                "field": e.field,
                "column": _cut(header_of.get(e.field)),
                "value": None if e.value is None or e.value is _INVALID else _cut(as_text(e.value)),
                "message": _cut(e.message),
            }
            for e in shown
        ],
        "rows": [
            {
                "line": r.line,
                "producer_code": r.producer.fields["code"],
                "product_name": r.product["name"],
                "producer": "matched" if r.producer.existing is not None else "created",
                "product": "created" if r.existing_product is None else "matched",
                "certification": r.action,
                "producer_id": r.producer.existing["id"] if r.producer.existing else None,
                "product_id": r.product_id if r.existing_product else None,
                "certification_id": r.cert_id if r.action == "unchanged" else None,
            }
            for r in checked.rows
        ],
        "decisions": _decisions_report(checked),
        "previous_imports": [
            {
                "id": p.id,
                "applied_at": p.applied_at,
                "applied_by": p.applied_by,
                "filename": p.filename,
                "summary": p.summary,
            }
            for p in previous
        ],
    }
    if checked.errors:
        more = (
            f"; the first {MAX_ERRORS} of {len(checked.errors)} errors are listed"
            if len(checked.errors) > MAX_ERRORS
            else ""
        )
        report["message"] = (
            f"{bad} of {len(table.rows)} rows have errors{more}; fix them and run the import "
            "again (nothing was written)"
        )
    else:
        report["message"] = "dry run: " + _message(counts, applied=False) + _previously(report)
    return report


def _decisions_report(checked: Checked, applied: bool = False) -> list[dict]:
    """The decisions the file names: matched in the register or created (by an apply), with their rows."""
    out = []
    for plan in checked.decisions.values():
        spec, existing = plan["spec"], plan["existing"]
        out.append(
            {
                "id": plan["id"] if existing is not None or (applied and plan["created"]) else None,
                "action": "matched" if existing is not None else "created",
                "number": existing.number if existing else spec["number"],
                "date": existing.decision_date if existing else spec["decision_date"],
                "issued_by": existing.issued_by if existing else spec["issued_by"],
                "level": existing.level if existing else spec["level"],
                "kind": existing.kind if existing else domain.decision_kind_for(plan["kinds"] or {"new"}),
                "rows": plan["rows"],
                "certificates_created": plan["created"],
            }
        )
    return out


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _ids(report: dict, checked: Checked) -> None:
    """Once applied, each row names the records it created or matched."""
    for out, row in zip(report["rows"], checked.rows, strict=True):
        out.update(producer_id=row.producer.id, product_id=row.product_id, certification_id=row.cert_id)


def _message(counts: dict, applied: bool) -> str:
    verb = "created" if applied else "an apply would create"
    return (
        f"{verb} {counts['producers']['created']} producers, {counts['products']['created']} products and "
        f"{counts['certifications']['created']} certifications ({counts['producers']['matched']} producers "
        f"and {counts['products']['matched']} products matched, {counts['certifications']['unchanged']} "
        f"rows unchanged, {counts['events']} events)"
    )


def _previously(report: dict) -> str:
    if not report["previous_imports"]:
        return ""
    last = report["previous_imports"][-1]
    return f"; this file was applied before, on {last['applied_at']:%d/%m/%Y %H:%M} UTC by {last['applied_by']}"
