"""The console's catalogues: gettext .po files (English msgids; Vietnamese the default language), read
by Flask-Babel. As for the notification letters (services/notifications/i18n.py), the .po sources are
compiled to the .mo form in memory when a process first needs a language: nothing to build, nothing
written next to the code. Directories: this package's ``translations/`` (the shared strings), then the
service's own ``translations/`` if it has one (its strings win)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask_babel import Domain, get_locale

HERE = Path(__file__).parent


@cache
def compiled(po: Path) -> Translations | None:
    """A .po file as translations (None when there is none)."""
    if not po.is_file():
        return None
    with po.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf, domain="messages")


class PoDomain(Domain):
    """Flask-Babel's domain, reading .po sources instead of compiled .mo files."""

    def __init__(self, directories: list[Path]):
        super().__init__([str(d) for d in directories])
        self.directories = directories

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return NullTranslations()
        key = str(locale)
        if key not in self.cache:
            merged = Translations(domain="messages")
            for directory in self.directories:
                found = compiled(directory / key / "LC_MESSAGES" / "messages.po")
                if found is not None:
                    merged.merge(found)
            self.cache[key] = merged
        return self.cache[key]


def directories(service_root: str) -> list[Path]:
    own = Path(service_root) / "translations"
    return [HERE / "translations", *([own] if own.is_dir() else [])]
