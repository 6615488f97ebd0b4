"""Management commands of the registry service: ``python -m services.registry.manage COMMAND``.

The database commands every service has (``migrate``, ``revision``, ``downgrade``: shared/manage.py), plus
``sweep``, ``import``, ``replay``, ``revoke-token``, ``create-admin`` and ``token-keys``; ``--help`` on
any of them says what it does.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path

import click

from shared.instants import vietnam_today
from shared.manage import Moment, commands, fail, print_json, run, runtime

from .replay import CHUNK

cli = commands("registry", Path(__file__).parent, help="Management commands of the registry service.")


@cli.command()
def sweep() -> None:
    """The daily certificate sweep (expiry and its notices), the same the worker runs; idempotent."""
    from .worker import run_sweep

    click.echo(run_sweep(runtime()))


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--apply", is_flag=True, help="write it all (else: a dry run, nothing written)")
@click.option("--decision-number", help="decision number for every row (else the column)")
@click.option("--decision-date", help="decision date for every row, 20/07/2021 or 2021-07-20")
@click.option("--issued-by", help="issuing authority for every row (else the column)")
@click.option("--level", help="the decision's level for every row: province (default) or national")
def import_(file: Path, apply: bool, **options) -> None:
    """Import a decision's list (CSV or XLSX) from FILE: a dry run unless --apply.

    Prints the same JSON report as POST /imports. Exit status 0 when the file is valid (and, with
    --apply, applied), 1 when rows have errors, 2 when the options or the file cannot be read."""
    from marshmallow import ValidationError

    from shared.errors import OperationError

    from . import imports
    from .import_schemas import ImportIn, ImportReportOut

    try:
        form = ImportIn(exclude=("file", "dry_run")).load({k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        fail({"message": "invalid options", "errors": exc.messages}, 2)
    try:
        content = file.read_bytes()
    except OSError as exc:
        fail({"message": f"cannot read {file}: {exc.strerror}"}, 2)
    rt = runtime()
    try:
        with rt.transaction() as session:
            report = imports.run_import(
                session,
                rt.emit,
                content,
                file.name,
                apply=apply,
                decision=form,
                today=vietnam_today(),
                applied_by=f"cli:{getpass.getuser()}",
                budget=imports.Budget.of(rt.settings),
            )
    except imports.RowsRefused as exc:
        fail(ImportReportOut().dump({**exc.report, "message": exc.message}), 1)
    except OperationError as exc:
        fail({"message": exc.message, "errors": exc.errors()}, 2)
    print_json(ImportReportOut().dump(report), indent=2)
    if not report["valid"]:
        raise SystemExit(1)


@cli.command()
@click.option(
    "--since",
    type=Moment(local=True),
    help="only producers and products with a registry event since "
    "then: 2026-11-01 (midnight, Vietnam time) or 2026-11-01T08:00:00+07:00",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=CHUNK,
    show_default=True,
    help="producers or products per transaction",
)
def replay(since: datetime | None, chunk: int) -> None:
    """Re-publish the registry's current state as events for the events service's read model.

    Every producer and product with its certification (with --since, those with a registry event
    since then), through the outbox: the registry worker's relay publishes them. Prints the counts."""
    from . import replay as replaying

    print_json(replaying.replay(runtime(), since=since, chunk=chunk), indent=2)


@cli.command("revoke-token")
@click.argument("jti")
@click.option("--reason", required=True, help="why (kept with the revocation)")
@click.option("--exp", type=int, help="the token's exp (seconds since 1970); default: 90 days from now")
def revoke_token(jti: str, reason: str, exp: int | None) -> None:
    """Put the API token JTI on every service's deny list, as POST /tokens/revocations.

    ``python -m shared.auth`` prints a token's jti (hexadecimal; an older one starting with "-" goes after
    ``--``: ``revoke-token --reason WHY -- -JTI``)."""
    from marshmallow import ValidationError

    from .token_routes import TokenRevocationIn, revoke

    try:
        body = TokenRevocationIn().load({"jti": jti, "reason": reason, "exp": exp})
    except ValidationError as exc:
        raise click.UsageError(json.dumps(exc.messages, ensure_ascii=False)) from None
    rt = runtime()
    with rt.transaction() as s:
        print_json(revoke(s, rt.emit, body["jti"], body["exp"], body["reason"]), indent=2)


@cli.command("create-admin")
@click.option("--email", required=True, help="the administrator's email (signs in with it)")
@click.option("--name", required=True, help="the administrator's name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (else: asked twice)")
def create_admin(email: str, name: str, password_stdin: bool) -> None:
    """Create an administrator account (the first one, or another): prints its id and email.

    The password (at least 12 characters) is asked twice on a terminal, or read from standard input
    with --password-stdin (its first line); never on the command line."""
    import sys

    from . import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = runtime()
    try:
        with rt.transaction() as s:
            account = accounts.create(s, email=email, name=name, role="admin", password=password)
            out = {"id": account.id, "email": account.email, "role": account.role}
    except accounts.AccountError as exc:
        fail({"message": "the account cannot be created", "errors": exc.errors}, 2)
    print_json(out, indent=2)


@cli.command("token-keys")
def token_keys() -> None:
    """Print a new Ed25519 key pair for tokens and sessions (PEM): the private key for the registry's
    OCOP_TOKEN_PRIVATE_KEY, the public key for every service's OCOP_TOKEN_PUBLIC_KEY."""
    from shared.signing import new_pair

    private, public = new_pair()
    click.echo(private + public, nl=False)


if __name__ == "__main__":
    from .app import create_app

    run(cli, create_app)
