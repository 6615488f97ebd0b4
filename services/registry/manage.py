"""Management commands of the registry service (see shared/manage.py), plus:

- ``sweep``: the daily certificate sweep, the same the worker runs (idempotent);
- ``import FILE [--apply] [--decision-number N --decision-date D --issued-by X]``: the bulk import
  of a decision's list (CSV or XLSX), a dry run unless ``--apply``; prints the same JSON report as
  ``POST /imports``. Exit status 0 when the file is valid (and, with ``--apply``, applied), 1 when
  rows have errors, 2 when the file cannot be read at all.
"""

import argparse
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.manage import main


def import_command(argv: list[str]) -> int:
    from marshmallow import ValidationError

    from shared.errors import OperationError
    from shared.web import runtime_of

    from . import imports
    from .app import create_app
    from .schemas import ImportIn, ImportReportOut

    parser = argparse.ArgumentParser(prog="python -m services.registry.manage import",
                                     description="Import a decision's list (CSV or XLSX): a dry run unless --apply.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--apply", action="store_true", help="write it all (else: dry run, nothing written)")
    parser.add_argument("--decision-number", help="decision number for every row (else the column)")
    parser.add_argument("--decision-date", help="decision date for every row, 20/07/2021 or 2021-07-20")
    parser.add_argument("--issued-by", help="issuing authority for every row (else the column)")
    args = parser.parse_args(argv)
    try:
        form = ImportIn(exclude=("file", "dry_run")).load(
            {k: v for k, v in (("decision_number", args.decision_number), ("decision_date", args.decision_date),
                               ("issued_by", args.issued_by)) if v is not None})
    except ValidationError as exc:
        return _fail({"message": "invalid options", "errors": exc.messages}, 2)
    try:
        content = args.file.read_bytes()
    except OSError as exc:
        return _fail({"message": f"cannot read {args.file}: {exc.strerror}"}, 2)
    runtime = runtime_of(create_app(migrate=True))
    try:
        with runtime.transaction() as session:
            report = imports.run_import(session, runtime.emit, content, args.file.name, apply=args.apply,
                                        decision=form, today=datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date(),
                                        applied_by=f"cli:{getpass.getuser()}")
    except imports.RowsRefused as exc:
        return _fail(ImportReportOut().dump({**exc.report, "message": exc.message}), 1)
    except OperationError as exc:
        return _fail({"message": exc.message, "errors": exc.errors()}, 2)
    _print(ImportReportOut().dump(report))
    return 0 if report["valid"] else 1


def _print(report: dict) -> None:
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))


def _fail(report: dict, status: int) -> int:
    _print(report)
    print(report["message"], file=sys.stderr)
    return status


if __name__ == "__main__":
    if sys.argv[1:2] == ["sweep"]:
        from shared.web import runtime_of

        from .app import create_app
        from .worker import run_sweep

        print(run_sweep(runtime_of(create_app(migrate=True))))
        sys.exit(0)
    if sys.argv[1:2] == ["import"]:
        sys.exit(import_command(sys.argv[2:]))
    sys.exit(main("registry", Path(__file__).parent, sys.argv[1:]))
