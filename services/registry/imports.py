"""Bulk import of a decision's list (one decision certifies many products) from CSV or XLSX.

Each row is a producer (by business or tax code: created if new, else matched), a product (matched
by producer and name, ignoring diacritics and case, else created) and its certification. The rules
are the API's: every row is loaded by the API's input schemas and checked by the same functions
of ``operations`` (which call ``domain``); nothing here is a second rule set. What is added is what
only a file has: columns, cells, line numbers, and conflicts between rows.

A dry run reports every bad row (line as the user sees it, header = line 1; field; reason) and
what an apply would create or match, and writes nothing. An apply is all or nothing, in the
caller's one transaction: validate in Python, look existing rows up in a few set-based queries,
then insert producers, products, certifications and outbox rows in batches (executemany), with
the same events the single-record API emits. A row whose certification (same authority, decision
number and date) is already in the register is reported unchanged, so the same file twice changes
nothing the second time.

Reading the file (format, encoding, columns, limits) is ``import_files``; checking its rows is
``import_rows``; this module matches them against the register, writes and reports.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import bindparam, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.errors import Conflict, Invalid
from shared.text import fold

from . import decisions, domain
from . import operations as ops
from .import_convert import CERT_KINDS, PRODUCER_KINDS, as_group, as_stars, as_whole_number
from .import_files import (
    COLUMNS,
    MAX_COLUMNS,
    Budget,
    FileRefused,
    Table,
    header_key,
    map_columns,
    read_table,
)
from .import_report import MAX_ERRORS, _decisions_report, _ids, _message, _previously, _report
from .import_resolver import Resolver
from .import_rows import (
    Checked,
    check_decision,
    check_rows,
)
from .models import Certification, ImportRecord, Producer, Product

__all__ = [
    "COLUMNS",
    "MAX_COLUMNS",
    "MAX_ERRORS",
    "CERT_KINDS",
    "PRODUCER_KINDS",
    "FileRefused",
    "RowsRefused",
    "Table",
    "as_group",
    "as_stars",
    "as_whole_number",
    "check_decision",
    "check_rows",
    "fold",
    "header_key",
    "map_columns",
    "read_table",
    "run_import",
]

LOCK_KEY = 0x0C0B1A  # PostgreSQL advisory lock: one apply at a time


class RowsRefused(Invalid):
    """An apply refused because rows have errors, by line and field (the first MAX_ERRORS); nothing
    written."""

    def __init__(self, report: dict):
        first = report["errors"][0]
        super().__init__(
            f"{report['rows_with_errors']} of {report['file']['rows']} rows have errors; nothing was "
            f"imported "
            f"(first: line {first['line']}, {first['field']}: {first['message']})",
            field="file",
        )
        self.report = report

    def errors(self):
        rows: dict[str, dict[str, list[str]]] = {}
        for e in self.report["errors"]:
            rows.setdefault(str(e["line"]), {}).setdefault(e["field"], []).append(e["message"])
        return {"files": {"rows": rows}}


# ---- writing ---------------------------------------------------------------------------------
class _Row(dict):
    """A dict the event builders of ``operations`` (which read attributes) accept."""

    __getattr__ = dict.__getitem__


def _new_decisions(session: Session, checked: Checked, applied_by: str) -> None:
    """Record the decisions the file names that the register does not have yet."""
    made = []
    for plan in checked.decisions.values():
        if plan["existing"] is None and plan["created"]:
            spec = plan["spec"]
            record = decisions.new(
                spec["issued_by"],
                spec["number"],
                spec["decision_date"],
                spec["level"],
                domain.decision_kind_for(plan["kinds"]),
                spec["criteria_version"],
                applied_by,
            )
            record.id = plan["id"]
            plan["record"] = record
            made.append(record)
        else:
            plan["record"] = plan["existing"]
    session.add_all(made)
    session.flush()


def write(session: Session, emit, checked: Checked, now: datetime, applied_by: str = "import") -> int:
    """Insert and update in batches (executemany), then the events in one multi-row insert into
    the outbox: the same events, with the same subject versions, as the single-record API."""
    _new_decisions(session, checked, applied_by)
    producers, products, certs, bumps, events = [], [], [], [], []
    for row in checked.rows:
        if row.action == "unchanged":
            continue
        plan = row.producer
        if plan.created and not plan.existing:
            p = _Row(plan.fields, id=plan.id, version=1, created_at=now)
            producers.append(p)
            plan.existing = p  # later rows of this producer: matched, and no second event
            events.append(("registry.producer.registered", p.id, 1, ops.producer_event(p)))
        producer = plan.existing
        if row.existing_product is None:
            product = _Row(
                row.product,
                id=row.product_id,
                producer_id=plan.id,
                version=2,
                created_at=now,
                **ops.producer_copy(producer),
            )
            products.append(product)
            events.append(("registry.product.registered", product.id, 1, ops.product_event(_Row(product, version=1))))
        else:
            product = _Row(
                row.existing_product, producer_id=plan.id, potential_five_star=row.product["potential_five_star"]
            )
            bumps.append(
                {"b_id": product.id, "b_version": row.product_version, "b_potential": product.potential_five_star}
            )
        decision = row.decision["record"]
        cert = _Row(
            row.cert,
            id=row.cert_id,
            product_id=product.id,
            status="current",
            created_at=now,
            revoked_reason=None,
            revocation_decision_number=None,
            revocation_decision_date=None,
            expiring_announced_at=None,
            decision_id=decision.id,
            revocation_decision_id=None,
            revocation_reason_code=None,
        )
        certs.append(cert)
        events.append(
            (
                ops.CERTIFICATION_EVENT[cert.kind],
                product.id,
                row.product_version,
                ops.certification_event(cert, product, _Row(producer), replaces=row.supersedes, decision=decision),
            )
        )
    superseded = [{"b_id": r.supersedes} for r in checked.rows if r.supersedes and r.action == "created"]
    conn = session.connection()
    if producers:
        conn.execute(Producer.__table__.insert(), [_columns(Producer, p) for p in producers])
    if products:
        conn.execute(Product.__table__.insert(), [_columns(Product, p) for p in products])
    if superseded:
        C = Certification.__table__
        conn.execute(update(C).where(C.c.id == bindparam("b_id")).values(status="superseded"), superseded)
    if bumps:
        P = Product.__table__
        conn.execute(
            update(P)
            .where(P.c.id == bindparam("b_id"))
            .values(version=bindparam("b_version"), potential_five_star=bindparam("b_potential")),
            bumps,
        )
    if certs:
        conn.execute(Certification.__table__.insert(), [_columns(Certification, c) for c in certs])
    emit.many(session, events)
    return len(events)


def _columns(model, row: dict) -> dict:
    """The row's values for the table's columns (a column it does not set takes its default)."""
    return {c.key: row[c.key] for c in model.__table__.columns if c.key in row}


# ---- the whole import ------------------------------------------------------------------------
def run_import(
    session: Session,
    emit,
    data: bytes,
    filename: str,
    *,
    apply: bool,
    decision: dict,
    today: date,
    applied_by: str,
    budget: Budget | None = None,
) -> dict:
    """Check a file against the API's rules and the register, within ``budget`` (the service's
    settings': ``Budget.of(settings)``); with ``apply``, write it all in the caller's transaction
    (which the caller commits) or refuse it all (RowsRefused)."""
    decision = {k: v for k, v in decision.items() if v is not None}
    budget = budget or Budget()
    if len(data) > budget.max_bytes:
        raise FileRefused(f"the file is larger than the limit of {budget.max_bytes} bytes", status=413)
    check_decision(decision, today)
    table = read_table(data, filename, budget)
    if not table.rows:
        raise FileRefused("the file has a header but no rows")
    if apply and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    checked = check_rows(table, decision, today, budget)
    Resolver(session, lock=apply).resolve(checked)
    sha = hashlib.sha256(data).hexdigest()
    report = _report(checked, filename, sha, apply, session)
    if checked.errors:
        if apply:
            raise RowsRefused(report)
        return report
    counts = report["summary"]
    if apply and counts["events"]:
        now = utcnow()
        try:
            write(session, emit, checked, now, applied_by[:200])
            record = ImportRecord(
                sha256=sha,
                filename=filename[:300],
                format=table.format,
                applied_by=applied_by[:200],
                applied_at=now,
                rows=len(table.rows),
                summary=counts,
            )
            session.add(record)
            session.flush()
        except IntegrityError as exc:
            # A producer code recorded by someone else since the lookup (PostgreSQL runs requests at once).
            raise Conflict(
                "the register changed while the file was applied (a producer code was recorded "
                "meanwhile); run the import again",
                field="file",
            ) from exc
        report.update(
            applied=True,
            import_id=record.id,
            message=_message(counts, applied=True),
            decisions=_decisions_report(checked, applied=True),
        )
        _ids(report, checked)
    elif apply:
        report["message"] = "nothing to apply: every row is already in the register" + _previously(report)
        _ids(report, checked)
    return report
