"""The request-body string fields every service's schemas use: one line (names, codes, addresses,
ids) or free text over several lines (descriptions, notes). Both have a maximum length, defaulted
so none can be forgotten, which the OpenAPI documents show as ``maxLength``.

A single line holds no control or format character: no CR or LF (a name goes into an email's
``To:`` header and a calendar line), no tab, no NUL (PostgreSQL refuses it: a 500 rather than a
422 without this), no U+2028/U+2029 line separators, no bidirectional overrides or other invisible
format characters (which make a name read differently from what it is), and no lone surrogate
(JSON's ``"\\ud800"``, which no database and no UTF-8 response can hold). Free text keeps its line
breaks (CR LF and CR are stored as LF) and refuses the rest alike. The zero-width joiner and
non-joiner stay allowed: some scripts and emoji need them.
"""

from __future__ import annotations

import unicodedata

from marshmallow import ValidationError, fields, validate

NAME = 300  # names of producers, products, fairs, organisers, venues
LINE = 200  # any other single line (people, authorities, search terms)
ADDRESS = 500
CODE = 64  # ids, codes, decision numbers
TEXT = 5000  # descriptions
NOTE = 1000  # notes and reasons

_REFUSED = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_ALLOWED = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner


def _check(value: str, keep: str = "") -> None:
    if value.isprintable():  # the common case, in C: no Cc, Cf, Cs, Zl, Zp (nor Zs other than space, Co, Cn)
        return
    for position, ch in enumerate(value, start=1):
        if ch in keep or ch in _ALLOWED:
            continue
        category = unicodedata.category(ch)
        if category == "Cs":
            raise ValidationError(
                f"Contains a lone surrogate (U+{ord(ch):04X}) at character {position}: not valid Unicode text."
            )
        if category in _REFUSED:
            what = "line break" if ch in "\r\n\u2028\u2029\x0b\x0c\x85" else "control character"
            raise ValidationError(
                f"Contains a {what} (U+{ord(ch):04X}) at character {position}; "
                + ("this field is one line." if what == "line break" else "remove it.")
            )


class Line(fields.String):
    """One line of text, at most ``max_length`` characters (default 200)."""

    default_max = LINE
    keep = ""

    def __init__(self, *, max_length: int | None = None, min_length: int | None = None, **kwargs):
        self.max_length = max_length or self.default_max
        extra = kwargs.pop("validate", None)
        extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(validate=[validate.Length(min=min_length, max=self.max_length), *extra], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > self.max_length:  # before looking at each character of a huge value
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        _check(value, self.keep)
        return value


class Paragraphs(Line):
    """Free text over several lines (descriptions, notes), at most ``max_length`` characters
    (default 5,000); CR LF and CR become LF."""

    default_max = TEXT
    keep = "\n"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        return super()._deserialize(value, attr, data, **kwargs)


def bounded_list(inner: fields.Field, *, max_items: int, min_items: int | None = None, **kwargs) -> fields.List:
    """A list of at most ``max_items`` items (shown as ``maxItems``)."""
    extra = kwargs.pop("validate", None)
    extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
    return fields.List(inner, validate=[validate.Length(min=min_items, max=max_items), *extra], **kwargs)


class Email(fields.Email):
    """An email address: at most 254 characters, one line (marshmallow's check admits U+2028)."""

    def __init__(self, **kwargs):
        extra = kwargs.pop("validate", None)
        extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(validate=[validate.Length(max=254), *extra], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > 254:  # before the address pattern looks at a huge value
            raise ValidationError("Longer than maximum length 254.")
        _check(value)
        return value


class Url(fields.Url):
    """A URL of at most ``max_length`` characters (default 2,000) with no control or format character
    (marshmallow's check admits a bidirectional override in the host)."""

    def __init__(self, *, max_length: int = 2000, **kwargs):
        self.max_length = max_length
        extra = kwargs.pop("validate", None)
        extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(validate=[validate.Length(max=max_length), *extra], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        _check(value)
        return value
