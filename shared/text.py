"""Vietnamese-aware text folding: "Kẹo dừa" and "keo dua" fold to the same key."""

from __future__ import annotations

import re
import unicodedata


def fold(value: str) -> str:
    """Lower-case, strip diacritics (đ → d included), collapse spaces."""
    decomposed = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split())


def nfc(value: str) -> str:
    """Store text in NFC so the same name typed on different keyboards compares equal."""
    return unicodedata.normalize("NFC", value).strip()


def one_line(value: str) -> str:
    """A value that must stay on one line (an email header, a calendar property): each run of control
    characters (CR and LF among them), line or paragraph separators and lone surrogates becomes one
    space; everything else is kept as it is."""
    if value.isprintable():  # the usual case: nothing to replace
        return value
    return _BREAKS.sub(" ", value)


# Unicode's categories Cc, Zl, Zp and Cs (fixed by Unicode's stability policy)
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
