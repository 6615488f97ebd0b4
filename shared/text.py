"""Vietnamese-aware text folding: "Kẹo dừa" and "keo dua" fold to the same key."""

from __future__ import annotations

import unicodedata


def fold(value: str) -> str:
    """Lower-case, strip diacritics (đ → d included), collapse spaces."""
    decomposed = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split())


def nfc(value: str) -> str:
    """Store text in NFC so the same name typed on different keyboards compares equal."""
    return unicodedata.normalize("NFC", value).strip()
