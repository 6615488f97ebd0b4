"""The docs stay true: every command README.md and docs/*.md show exists (module, sub-command and
options; scripts; benchmarks), every variable they name is read by the code, every variable the running
code reads is in the one configuration table (docs/operations.md), every file path they name exists and
every link between the pages lands on a page and a heading."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import io
import re
import shlex
from functools import cache
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIG_PAGE = ROOT / "docs" / "operations.md"
RUNTIME = ("services", "shared", "embedded")  # the code an operator configures
ANYWHERE = (*RUNTIME, "tests", "bench", "examples", "scripts", ".ci")
VARIABLE = re.compile(r"\b((?:OCOP|SMTP|SMS)_[A-Z0-9_]*[A-Z0-9]|MAIL_FROM|[A-Z]+_DATABASE_URL|[A-Z]+_PREFETCH)\b")
PYTHON_M = re.compile(r"(?:\.venv/bin/)?python3? -m ([a-z_][\w.]*)(?=[\s`)]|$)([^\n`#|;&)]*)")


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def code_spans(page: Path) -> list[str]:
    """Fenced blocks (continuation lines joined) and inline code of a page."""
    body = text(page)
    blocks = re.findall(r"^\s*```[^\n]*\n(.*?)^\s*```", body, re.M | re.S)
    rest = re.sub(r"^\s*```[^\n]*\n.*?^\s*```", "", body, flags=re.M | re.S)
    return [b.replace("\\\n", " ") for b in blocks] + re.findall(r"`([^`\n]+)`", rest)


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(page, module, arguments) of every ``python -m MODULE ...`` shown."""
    found = []
    for page in PAGES:
        for span in code_spans(page):
            for module, args in PYTHON_M.findall(span):
                found.append((page.name, module, _arguments(args)))
    return found


def _arguments(raw: str) -> list[str]:
    """The arguments as a user types them: optional parts kept, placeholders made values."""
    raw = re.sub(r"<[^>]*>", "VALUE", raw).replace("[", " ").replace("]", " ").replace("...", " ")
    try:
        words = shlex.split(raw)
    except ValueError:
        words = raw.split()
    return [w.split("|")[0] for w in words]


def test_the_docs_show_commands_at_all():
    modules = {m for _, m, _ in documented_commands()}
    assert {"services.registry.manage", "services.events.manage", "shared.bus.cli", "shared.auth"} <= modules


@pytest.mark.parametrize(
    ("page", "module", "args"), documented_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else str(v)
)
def test_a_documented_python_command_exists(page, module, args):
    assert importlib.util.find_spec(module) is not None, f"{page}: no module {module}"
    problem = _check(module, args)
    assert problem is None, f"{page}: python -m {module} {' '.join(args)}: {problem}"


def _check(module: str, args: list[str]) -> str | None:
    group = getattr(importlib.import_module(module), "cli", None) if module.endswith(".manage") else None
    if isinstance(group, click.Group):
        return _check_click(group, args)
    if module == "shared.bus.cli":
        return _check_argparse(importlib.import_module(module).parser(), args)
    if module == "shared.auth":
        roles = importlib.import_module(module).ROLES
        if args and not args[0].isupper() and args[0] not in roles:
            return f"unknown role {args[0]!r} (roles: {roles})"
        return None
    if args and re.fullmatch(r"[a-z][a-z-]*", args[0]):
        # a sub-command dispatched by hand (services.notifications.i18n): named in the module's source
        source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
        if f'"{args[0]}"' not in source:
            return f"no sub-command {args[0]!r}"
    return None


def _check_click(group: click.Group, args: list[str]) -> str | None:
    if not args:
        return None
    command = group.get_command(click.Context(group), args[0])
    if command is None:
        return f"no command {args[0]!r} (commands: {sorted(group.commands)})"
    options = {o for param in command.params for o in (*param.opts, *param.secondary_opts)}
    unknown = [a.split("=")[0] for a in args[1:] if a.startswith("--") and a.split("=")[0] not in options]
    return f"no option {unknown} of {args[0]!r} (options: {sorted(options)})" if unknown else None


def _check_argparse(parser, args: list[str]) -> str | None:
    refusal = io.StringIO()
    try:
        with contextlib.redirect_stderr(refusal):
            parser.parse_args(args)
    except SystemExit:
        return refusal.getvalue().strip().splitlines()[-1]
    return None


def test_documented_scripts_and_benchmarks_exist():
    missing = []
    for page in PAGES:
        for span in code_spans(page):
            for script in re.findall(r"(?<![\w/.])((?:scripts|\.ci)/[\w-]+)", span):
                path = ROOT / script
                if not (path.is_file() and path.stat().st_mode & 0o111):
                    missing.append(f"{page.name}: {script}")
            for bench in re.findall(r"bench/run ([a-z][\w-]*)", span):
                if not (ROOT / "bench" / f"{bench}.py").is_file():
                    missing.append(f"{page.name}: bench/run {bench}")
    assert missing == []


def test_documented_file_paths_exist():
    """A path the docs name (``services/events/matching.py``, ``tests/faults/``) is where they say."""
    missing = []
    for page in PAGES:
        for span in code_spans(page):
            for path in re.findall(r"^((?:services|shared|embedded|tests|bench|deploy|examples|docs)/[\w./-]*)$", span):
                if "<" not in path and not (ROOT / path.rstrip("/")).exists():
                    missing.append(f"{page.name}: {path}")
    assert missing == []


# --- settings -------------------------------------------------------------------------------------


def _sources(folders) -> list[Path]:
    files = []
    for folder in folders:
        base = ROOT / folder
        files += [
            p
            for p in base.rglob("*")
            if p.is_file()
            and (p.suffix == ".py" or p.parent.name in {"scripts", ".ci"})
            and ".venv" not in p.parts
            and "migrations" not in p.parts
        ]
    return files


@cache
def read_by(folders: tuple[str, ...]) -> tuple[frozenset[str], tuple[re.Pattern, ...]]:
    """Variable names the code writes out, and the patterns of those it builds (f"OCOP_RATE_{c}")."""
    names, patterns = set(), []
    for path in _sources(folders):
        source = path.read_text(encoding="utf-8")
        if path.suffix != ".py":
            names.update(VARIABLE.findall(source))
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(m for m in VARIABLE.findall(node.value) if m == node.value.strip())
            elif isinstance(node, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[A-Z0-9]+" for v in node.values]
                pattern = "".join(parts)
                named = "OCOP_" in pattern or pattern.startswith("[A-Z0-9]+_")
                if named and re.fullmatch(r"[A-Z0-9_\\\[\]+-]+", pattern):
                    patterns.append(re.compile(pattern))
    return frozenset(names), tuple(patterns)


def _is_read(name: str, folders: tuple[str, ...]) -> bool:
    names, patterns = read_by(folders)
    return name in names or any(p.fullmatch(name) for p in patterns)


def documented_variables() -> dict[str, str]:
    found = {}
    for page in PAGES:
        for span in code_spans(page):
            for name in VARIABLE.findall(span):
                found.setdefault(name, page.name)
    return found


def test_every_documented_variable_is_read_by_the_code():
    documented = documented_variables()
    assert {"OCOP_BROKER_URL", "REGISTRY_DATABASE_URL", "SMTP_HOST", "SMS_GATEWAY_URL", "OCOP_RATE_SMS"} <= set(
        documented
    )
    unread = sorted(f"{page}: {name}" for name, page in documented.items() if not _is_read(name, ANYWHERE))
    assert unread == []


def configuration_table() -> set[str]:
    names = set()
    for line in text(CONFIG_PAGE).splitlines():
        if line.startswith("| `"):
            names.update(VARIABLE.findall(line.split(" | ")[0]))
    return names


def test_every_variable_the_running_code_reads_is_in_the_one_configuration_table():
    table = configuration_table()
    names, patterns = read_by(RUNTIME)
    missing = sorted(n for n in names if n not in table)
    missing += [p.pattern for p in patterns if not any(p.fullmatch(n) for n in table)]
    assert missing == []


# --- links ----------------------------------------------------------------------------------------


def _anchors(page: Path) -> set[str]:
    body = text(page)
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", body, re.M)}
    return slugs | set(re.findall(r'<a id="([^"]+)"', body))


def test_links_between_the_pages_land_on_a_page_and_a_heading():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", text(page)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            linked = (page.parent / path) if path else page
            if not linked.exists() or (fragment and linked.suffix == ".md" and fragment not in _anchors(linked)):
                broken.append(f"{page.name}: {target}")
    assert broken == []
