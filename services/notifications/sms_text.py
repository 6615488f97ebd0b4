"""SMS text: how a message is encoded (GSM-7 or UCS-2), sized in segments, and shortened to fit.
Pure: no Flask, no SQLAlchemy, no I/O. Re-exported by domain.py."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# ---- SMS: encoding and size -------------------------------------------------------------------
# GSM 03.38: the basic set costs one septet, the extension set two. Vietnamese letters with
# diacritics are not in it: a Vietnamese text goes as UCS-2 (70 characters, 67 per part of a
# long message) or, if the provider setting says so, without accents as GSM-7 (160, 153 per part).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")
LIMITS = {"gsm7": (160, 153), "ucs2": (70, 67)}  # (single message, each part of a long one)
SMS_MODES = ("ucs2", "unaccented")
_ASCII_LOOKALIKES = str.maketrans(
    {
        "–": "-",
        "—": "-",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "₫": "d",
        "đ": "d",
        "Đ": "D",
        "\u00a0": " ",
    }
)


@dataclass(frozen=True)
class Sms:
    text: str
    encoding: str  # gsm7 or ucs2
    segments: int
    units: int  # septets (gsm7) or UTF-16 code units (ucs2)


def unaccent(text: str) -> str:
    """Vietnamese without diacritics ("Hội chợ Cần Thơ" -> "Hoi cho Can Tho"), GSM-7 only."""
    text = unicodedata.normalize("NFD", text.translate(_ASCII_LOOKALIKES))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return "".join(ch if ch in GSM7_BASIC or ch in GSM7_EXTENSION else "?" for ch in unicodedata.normalize("NFC", text))


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _costs(text: str, encoding: str) -> list[int]:
    if encoding == "gsm7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # UTF-16 code units (surrogate pairs)


def count_segments(text: str, encoding: str) -> tuple[int, int]:
    """(segments, units): a character never straddles two parts of a long message."""
    costs = _costs(text, encoding)
    single, part = LIMITS[encoding]
    units = sum(costs)
    if units <= single:
        return (1 if text else 0), units
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments, units


def encode_sms(text: str, mode: str) -> Sms:
    """The text as it will be sent: ``ucs2`` keeps the diacritics (and goes as GSM-7 when the
    text needs nothing else, e.g. English); ``unaccented`` strips them and always goes as GSM-7."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if mode == "unaccented":
        text = unaccent(text)
    encoding = "gsm7" if is_gsm7(text) else "ucs2"
    segments, units = count_segments(text, encoding)
    return Sms(text, encoding, segments, units)


CLIPS = (None, 60, 45, 30, 20, 12)


def fit_sms(render: Callable[[int | None], str], link: str, mode: str, max_segments: int) -> Sms:
    """Render (``render(clip_to)``) and encode an SMS ending with ``link``, shortening the clipped
    fields until it fits ``max_segments``; the link is always whole. If even the shortest form does
    not fit, that form is sent (the log shows its segments)."""
    sms = None
    for clip in CLIPS:
        body = " ".join(render(clip).split())
        if mode == "unaccented":
            body = unaccent(body)
        sms = encode_sms(f"{body} {link}" if link else body, mode)
        if sms.segments <= max_segments:
            return sms
    return sms
