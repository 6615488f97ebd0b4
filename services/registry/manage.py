"""Management commands of the registry service (see shared/manage.py), plus:

- ``sweep``: the daily certificate sweep, the same the worker runs (idempotent);
- ``import FILE [--apply] [--decision-number N --decision-date D --issued-by X --level L]``: the bulk import
  of a decision's list (CSV or XLSX), a dry run unless ``--apply``; prints the same JSON report as
  ``POST /imports``. Exit status 0 when the file is valid (and, with ``--apply``, applied), 1 when
  rows have errors, 2 when the file cannot be read at all;
- ``replay [--since WHEN]``: re-publish the registry's current state (every producer and product
  with its certification; with ``--since``, those with a registry event since then) as events to
  the events service's queue, through the outbox, so that its read model can be rebuilt
  (``replay.py``; the procedure is in the README). Prints the counts as JSON;
- ``revoke-token JTI --reason WHY [--exp EPOCH]``: put an API token on the deny list of every
  service, as ``POST /tokens/revocations`` (``python -m shared.auth`` prints a token's jti).
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
    from .import_schemas import ImportIn, ImportReportOut

    parser = argparse.ArgumentParser(prog="python -m services.registry.manage import",
                                     description="Import a decision's list (CSV or XLSX): a dry run unless --apply.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--apply", action="store_true", help="write it all (else: dry run, nothing written)")
    parser.add_argument("--decision-number", help="decision number for every row (else the column)")
    parser.add_argument("--decision-date", help="decision date for every row, 20/07/2021 or 2021-07-20")
    parser.add_argument("--issued-by", help="issuing authority for every row (else the column)")
    parser.add_argument("--level", help="the decision's level for every row: province (default) or national")
    args = parser.parse_args(argv)
    try:
        form = ImportIn(exclude=("file", "dry_run")).load(
            {k: v for k, v in (("decision_number", args.decision_number), ("decision_date", args.decision_date),
                               ("issued_by", args.issued_by), ("level", args.level)) if v is not None})
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


def replay_command(argv: list[str]) -> int:
    from shared.web import runtime_of

    from . import replay
    from .app import create_app

    parser = argparse.ArgumentParser(
        prog="python -m services.registry.manage replay",
        description="Re-publish the registry's current state as events to the events service's read model queue "
                    "(through the outbox: the registry worker's relay publishes them).")
    parser.add_argument("--since", type=_moment, help="only producers and products with a registry event since "
                        "then: 2026-11-01 (midnight, Vietnam time) or 2026-11-01T08:00:00+07:00")
    parser.add_argument("--chunk", type=int, default=replay.CHUNK, help="producers or products per transaction")
    args = parser.parse_args(argv)
    if args.chunk < 1:
        parser.error("--chunk must be at least 1")
    runtime = runtime_of(create_app(migrate=True))
    _print(replay.replay(runtime, since=args.since, chunk=args.chunk))
    return 0


def revoke_token_command(argv: list[str]) -> int:
    from shared.web import runtime_of

    from .app import create_app
    from .token_routes import TokenRevocationIn, revoke

    parser = argparse.ArgumentParser(prog="python -m services.registry.manage revoke-token",
                                     description="Revoke an API token by its id (jti) on every service.")
    parser.add_argument("jti")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--exp", type=int, help="the token's exp (seconds since 1970); default: 90 days from now")
    args = parser.parse_args(argv)
    from marshmallow import ValidationError

    try:
        body = TokenRevocationIn().load({"jti": args.jti, "reason": args.reason, "exp": args.exp})
    except ValidationError as exc:
        parser.error(json.dumps(exc.messages, ensure_ascii=False))
    runtime = runtime_of(create_app(migrate=True))
    with runtime.transaction() as s:
        _print(revoke(s, runtime.emit, body["jti"], body["exp"], body["reason"]))
    return 0


def _moment(text: str) -> datetime:
    """A date (its midnight in Vietnam) or a date and time (Vietnam time unless it has an offset), in UTC."""
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or date-time: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return value.astimezone(UTC)


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
    if sys.argv[1:2] == ["replay"]:
        sys.exit(replay_command(sys.argv[2:]))
    if sys.argv[1:2] == ["revoke-token"]:
        sys.exit(revoke_token_command(sys.argv[2:]))
    sys.exit(main("registry", Path(__file__).parent, sys.argv[1:]))
