"""Translations of the notification templates: Babel catalogues for vi and en, and one Jinja2
environment per language with the ``jinja2.ext.i18n`` extension installed.

The message ids are English; ``translations/<lang>/LC_MESSAGES/messages.po`` are the sources
(kept in git). They are compiled to the .mo form in memory when a process first renders a
message (Babel's ``write_mo``): nothing is downloaded and nothing is written next to the code.
Vietnamese is the default and the fallback for any other language.

Maintenance (run from the repository root)::

    python -m services.notifications.i18n extract   # templates -> translations/messages.pot
    python -m services.notifications.i18n update    # merge the .pot into each .po
    python -m services.notifications.i18n compile   # write .mo files (optional: start-up compiles)
    python -m services.notifications.i18n check     # every message translated, nothing fuzzy or obsolete
"""

from __future__ import annotations

import io
import re
import sys
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, nodes, pass_context
from jinja2.ext import Extension, InternationalizationExtension
from jinja2.lexer import Token

from shared import reference
from shared.instants import VIETNAM
from shared.text import fold

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOGUES = HERE / "translations"
DOMAIN = "messages"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
# (Babel date patterns per language: what a producer reads, not CLDR's longest form.)
DATE = {"vi": "dd/MM/yyyy", "en": "d MMMM yyyy"}
SHORT_DATE = {"vi": "dd/MM", "en": "d MMM"}
DATETIME = {"vi": "HH:mm 'ngày' dd/MM/yyyy", "en": "h:mm a 'on' d MMMM yyyy"}
SHORT_DATETIME = {"vi": "HH:mm dd/MM", "en": "h:mm a d MMM"}
JINJA_EXTRACT = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
METHOD_MAP = [("**.txt", "jinja2"), ("**.html", "jinja2")]


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def po_path(lang: str) -> Path:
    return CATALOGUES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> Translations:
    """The compiled catalogue of one language, built from its .po source in memory."""
    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def _as_date(value) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def _as_datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _filters(lang: str) -> dict:
    # Pure functions of their value, and the values repeat (a fair's dates, its deadline, its
    # subsidy, in every message about it): each is formatted once.
    locale = Locale.parse(lang)

    @lru_cache(maxsize=4096)
    def fmt_date(value) -> str:
        return format_date(_as_date(value), DATE[lang], locale=locale)

    @lru_cache(maxsize=4096)
    def fmt_short_date(value) -> str:
        return format_date(_as_date(value), SHORT_DATE[lang], locale=locale)

    @lru_cache(maxsize=4096)
    def fmt_datetime(value) -> str:
        return format_datetime(_as_datetime(value), DATETIME[lang], tzinfo=VIETNAM, locale=locale)

    @lru_cache(maxsize=4096)
    def fmt_short_datetime(value) -> str:
        return format_datetime(_as_datetime(value), SHORT_DATETIME[lang], tzinfo=VIETNAM, locale=locale)

    @lru_cache(maxsize=1024)
    def money(value) -> str:
        # Vietnamese grouping (12.000.000) in both languages: the amount is in đồng either way.
        return format_decimal(int(value), locale="vi") + " ₫"

    catalogue = translations(lang)

    @lru_cache(maxsize=1024)
    def _contact(organiser: str | None, person: str | None, phone: str | None, email: str | None) -> str:
        if not organiser:  # older events name no organiser: nothing to say
            return ""
        lines = [catalogue.gettext("Questions about the fair: %(organiser)s") % {"organiser": organiser}]
        lines += [
            f"{catalogue.gettext(label)}: {value}"
            for label, value in (("Contact", person), ("Phone", phone), ("Email", email))
            if value
        ]
        return "\n".join(lines)

    def contact(fair) -> str:
        """Whom to ask about the fair, in plain text (the HTML templates write the same words as
        markup): the same for every letter about one fair, so it is put together once."""
        return _contact(
            fair.get("organiser"),
            fair.get("organiser_contact"),
            fair.get("organiser_phone"),
            fair.get("organiser_email"),
        )

    return {
        "date": fmt_date,
        "short_date": fmt_short_date,
        "datetime": fmt_datetime,
        "short_datetime": fmt_short_datetime,
        "money": money,
        "contact": contact,
    }


@lru_cache(maxsize=4096)  # a fair's venue and province, in every message about it
def _place(venue: str, province: str) -> str:
    folded = f" {' '.join(re.findall(r'[a-z0-9]+', fold(venue)))} "
    if not province or f" {' '.join(re.findall(r'[a-z0-9]+', fold(province)))} " in folded:
        return venue  # "Trung tâm Hội chợ Triển lãm Cần Thơ", not "..., Cần Thơ, Cần Thơ"
    return f"{venue}, {province}" if venue else province


def place(fair) -> str:
    """Where a fair is held: its venue, then its province unless the venue already names it (word
    for word, diacritics and case aside)."""
    return _place(fair.get("venue") or "", fair.get("host_province") or "")


@pass_context
def clip(ctx, value: str) -> str:
    """Shorten a long field (a fair's name) when a message must fit a size, e.g. an SMS: the
    renderer sets ``clip_to``; without it the value is whole."""
    limit = ctx.get("clip_to")
    value = str(value)
    if limit is None or len(value) <= limit:
        return value
    return value[: max(limit - 1, 1)].rstrip() + "…"


class StaticGettext(Extension):
    """``_("literal")`` (a message with no variables) becomes its translation when the template is
    compiled, marked safe in the HTML environment as newstyle gettext marks it (a plain string in the
    text one, where a Markup would escape what is added to it): a message has about twenty of them and
    each call through Jinja's runtime cost more than rendering the text around it. Messages with
    variables and plurals go through gettext as usual. Needs ``environment.static_gettext``."""

    def filter_stream(self, stream):
        window: list[Token] = []
        for token in stream:
            window.append(token)
            if (
                len(window) >= 4
                and window[-4].test("name:_")
                and window[-3].test("lparen")
                and window[-2].test("string")
                and window[-1].test("rparen")
                and not (len(window) >= 5 and window[-5].test("dot"))
            ):
                lineno, text = window[-4].lineno, self.environment.static_gettext(window[-2].value)
                del window[-4:]
                window.append(Token(lineno, "string", text))
                if self.environment.autoescape:  # the HTML environment: a translation is markup
                    window += [Token(lineno, "pipe", "|"), Token(lineno, "name", "safe")]
            while len(window) > 4:
                yield window.pop(0)
        yield from window


class StaticTrans(InternationalizationExtension):
    """``jinja2.ext.i18n``, with each ``{% trans %}`` block that has no plural translated when the
    template is compiled: the output is ``translation % variables`` (the translation marked safe
    where autoescaping is on, so the variables are escaped), exactly what newstyle gettext returns,
    without two calls through Jinja's runtime per block at every render (a third of a message's
    rendering). Plurals (``{% pluralize %}``, ``ngettext``) are translated at render time as before.
    Needs ``environment.static_gettext``."""

    def _make_node(self, singular, plural, context, variables, plural_expr, vars_referenced, num_called_num):
        if plural is not None or context is not None or not self.environment.newstyle_gettext:
            return super()._make_node(
                singular, plural, context, variables, plural_expr, vars_referenced, num_called_num
            )
        text = nodes.MarkSafeIfAutoescape(nodes.Const(self.environment.static_gettext(singular)))
        values = nodes.Dict([nodes.Pair(nodes.Const(name), value) for name, value in variables.items()])
        return nodes.Output([nodes.Mod(text, values)])


def environment(lang: str, html: bool = False) -> Environment:
    """The Jinja2 environment rendering in one language for one kind of output (StrictUndefined: a
    missing field fails). Everything that ends up as HTML (an email's HTML part, the answer page) is
    rendered by the HTML environment, where every template autoescapes, the ``.txt`` sentences it
    imports from ``_macros.txt`` included: a value is escaped once, where it is written, whatever the
    template. Plain text, subjects, SMS and calendar files are rendered unescaped by the text one."""
    return _environment(language_of(lang), bool(html))


class _TextLoader(FileSystemLoader):
    """The text environment's loader: an HTML template rendered there would be left unescaped."""

    def get_source(self, environment, template):
        if template.endswith(".html"):
            raise ValueError(f"{template} is HTML: render it with environment(lang, html=True)")
        return super().get_source(environment, template)


@cache
def _environment(lang: str, html: bool) -> Environment:
    loader = FileSystemLoader(TEMPLATES) if html else _TextLoader(TEMPLATES)
    env = Environment(
        loader=loader,
        autoescape=html,
        undefined=StrictUndefined,
        extensions=[StaticTrans, StaticGettext],
        trim_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )  # templates change with a restart
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.extend(static_gettext=translations(lang).gettext)
    env.filters.update(
        _filters(lang),
        clip=clip,
        place=place,
        province=lambda province, entered=None: reference.province_label(province, entered, lang),
    )
    env.globals["language"] = lang
    return env


# ---- catalogue maintenance -----------------------------------------------------------------------
def extract():
    """The catalogue of every translatable message in the templates."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="OCOP notifications", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        TEMPLATES, METHOD_MAP, options_map={"**": JINJA_EXTRACT}
    ):
        catalog.add(message, None, [(f"templates/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def read(lang: str):
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def problems() -> list[str]:
    """What is wrong with the catalogues: a template message missing from one, an untranslated or
    fuzzy entry, an entry no template uses any more."""
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}
    out = []
    for lang in LANGUAGES:
        catalog = read(lang)
        have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
        out += [f"{lang}: missing {mid!r}" for mid in sorted(wanted - set(have))]
        out += [f"{lang}: obsolete {mid!r}" for mid in sorted(set(have) - wanted)]
        for mid, m in have.items():
            if m.fuzzy:
                out.append(f"{lang}: fuzzy {mid!r}")
            if not (m.string if isinstance(m.string, str) else all(m.string)):
                out.append(f"{lang}: untranslated {mid!r}")
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        with (CATALOGUES / f"{DOMAIN}.pot").open("wb") as f:
            write_po(f, extract(), width=100, omit_header=False)
    elif command == "update":
        template = extract()
        for lang in LANGUAGES:
            catalog = read(lang)
            catalog.update(template, no_fuzzy_matching=True)
            with po_path(lang).open("wb") as f:
                write_po(f, catalog, width=100, ignore_obsolete=True)
    elif command == "compile":
        for lang in LANGUAGES:
            with po_path(lang).with_suffix(".mo").open("wb") as f:
                write_mo(f, read(lang))
    elif command == "check":
        found = problems()
        print("\n".join(found) or "catalogues complete")
        return 1 if found else 0
    else:
        print("usage: python -m services.notifications.i18n extract|update|compile|check", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
