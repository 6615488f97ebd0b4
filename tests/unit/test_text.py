"""Vietnamese-aware folding and normalisation (shared/text.py)."""

from __future__ import annotations

import unicodedata

import pytest

from shared.text import fold, nfc


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Kẹo dừa", "keo dua"),
        ("keo dua", "keo dua"),
        ("KẸO DỪA", "keo dua"),
        ("Đắk Lắk", "dak lak"),
        ("đắk lắk", "dak lak"),
        ("Bến Tre", "ben tre"),
        ("Thừa Thiên Huế", "thua thien hue"),
        ("Hoà Bình", "hoa binh"),
        ("Hòa Bình", "hoa binh"),
        ("  Cà   Mau\t", "ca mau"),
        ("", ""),
    ],
)
def test_fold(typed, key):
    assert fold(typed) == key


def test_kẹo_dừa_and_keo_dua_fold_alike():
    assert fold("Kẹo dừa") == fold("keo dua")


def test_composed_and_decomposed_input_fold_alike():
    name = "Nước mắm Phú Quốc"
    assert fold(unicodedata.normalize("NFD", name)) == fold(unicodedata.normalize("NFC", name)) == "nuoc mam phu quoc"


def test_nfc_composes_and_strips():
    decomposed = unicodedata.normalize("NFD", "  Kẹo dừa ")
    assert decomposed != "Kẹo dừa"
    assert nfc(decomposed) == "Kẹo dừa"
    assert unicodedata.is_normalized("NFC", nfc(decomposed))


def test_one_line_turns_every_line_break_and_control_character_into_a_space():
    from shared.text import one_line

    assert one_line("Hợp tác xã  Bưởi") == "Hợp tác xã  Bưởi"  # nothing else changes
    assert one_line("HTX\r\nBcc: x@evil.example") == "HTX Bcc: x@evil.example"
    assert one_line("a\rb\nc\x00d\x1be\x85f\u2028g\u2029h\ud800i\x7fj") == "a b c d e f g h i j"
