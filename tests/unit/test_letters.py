"""What producers read (issue 11), in both languages: every letter about a fair names its real
organiser and whom to ask (person, phone, email), the place reads once ("Cần Thơ", never "Cần Thơ,
Cần Thơ"), the deadline is a round time, and a late notice of expiry says how many days are left."""

from __future__ import annotations

import pytest

from services.notifications import domain
from services.notifications.rendering import render
from tests.unit.test_notifications_templates import NAME, sample_context

CAN_THO = {
    "organiser": "Trung tâm Xúc tiến thương mại Cần Thơ",
    "organiser_contact": "Trần Văn Phúc",
    "organiser_phone": "0292 3820 567",
    "organiser_email": "xttm@cantho.gov.vn",
    "venue": "Trung tâm Hội chợ Triển lãm Cần Thơ",
    "host_province": "Cần Thơ",
}
FAIR_LETTERS = sorted(n for n in domain.MESSAGES if not n.startswith("certificate_"))
WORDS = {
    "vi": ("Mọi thắc mắc về hội chợ, xin liên hệ: ", "Người liên hệ: ", "Điện thoại: ", "Thư điện tử: "),
    "en": ("Questions about the fair: ", "Contact: ", "Phone: ", "Email: "),
}


def letter(name: str, lang: str, **ctx_changes):
    ctx = sample_context(name)
    ctx = {**ctx, "fair": {**ctx["fair"], **CAN_THO}, **ctx_changes}
    return render(name, lang, ctx, sms_link=ctx.get("short_link") or "", calendar_uid="inv-1")


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", FAIR_LETTERS)
def test_every_letter_about_a_fair_names_its_organiser_and_whom_to_ask(name, lang):
    r = letter(name, lang)
    heard, person, phone, email = WORDS[lang]
    for body in (r.text, r.html):
        assert heard + CAN_THO["organiser"] in body, body
        assert person + CAN_THO["organiser_contact"] in body
        assert phone in body and CAN_THO["organiser_phone"] in body
        assert email in body and CAN_THO["organiser_email"] in body
    assert r.text.startswith({"vi": f"Kính gửi {NAME},", "en": f"Dear {NAME},"}[lang])  # the producer's full name
    assert f'href="mailto:{CAN_THO["organiser_email"]}"' in r.html and 'href="tel:02923820567"' in r.html
    assert "Sở Công Thương" not in r.text + r.html  # the Department is not named when it is not the organiser


@pytest.mark.parametrize("name", ["invitation", "promotion"])
def test_the_invitation_comes_from_the_real_organiser(name):
    vi, en = letter(name, "vi"), letter(name, "en")
    assert "Trung tâm Xúc tiến thương mại Cần Thơ trân trọng mời quý đơn vị tham gia" in vi.text
    assert "Trung tâm Xúc tiến thương mại Cần Thơ" in en.text and "invites you to take part" in en.text
    for r in (vi, en):
        assert CAN_THO["organiser_phone"] in r.attachments[0].content.replace("\r\n ", "")  # in the calendar too


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_without_a_contact_or_organiser_a_letter_still_reads(lang):
    """Older events carry no organiser: the letter invites without naming one, and says no empty line."""
    ctx = sample_context("invitation")
    fair = {k: v for k, v in ctx["fair"].items() if not k.startswith("organiser")}
    r = render("invitation", lang, {**ctx, "fair": fair})
    assert {"vi": "Trân trọng mời quý đơn vị tham gia", "en": "You are invited to take part in"}[lang] in r.text
    assert WORDS[lang][0] not in r.text and "None" not in r.text
    named = {**fair, "organiser": "Sở Công Thương"}
    only_name = render("accepted", lang, {**sample_context("accepted"), "fair": named})
    assert WORDS[lang][0] + "Sở Công Thương\n" in only_name.text and WORDS[lang][1] not in only_name.text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_place_names_the_province_once(lang):
    for name in ("invitation", "accepted", "reminder", "fair_cancelled"):
        r = letter(name, lang)
        assert "Cần Thơ, Cần Thơ" not in r.text + r.html, name
        assert "Trung tâm Hội chợ Triển lãm Cần Thơ" in r.text
    r = letter(
        "invitation",
        lang,
        fair={**sample_context("invitation")["fair"], "venue": "Công viên sông Hậu", "host_province": "Cần Thơ"},
    )
    assert "Công viên sông Hậu, Cần Thơ" in r.text  # a venue that does not name it: the province follows
    location = [line for line in r.attachments[0].content.split("\r\n") if line.startswith("LOCATION:")]
    assert location == ["LOCATION:Công viên sông Hậu\\, Cần Thơ"]


def test_the_deadline_reads_as_a_round_time_in_both_languages():
    # 16:59:59 UTC is 23:59:59 in Vietnam, what the events service now sets
    assert "Hạn trả lời: 23:59 ngày 31/10/2025" in letter("invitation", "vi").text
    assert "Answer by: 11:59 PM on 31 October 2025" in letter("invitation", "en").text


@pytest.mark.parametrize(
    ("days", "vi", "en"),
    [
        (20, "thông báo đến muộn, chỉ còn 20 ngày", "it comes late, with only 20 days left"),
        (1, "thông báo đến muộn, chỉ còn 1 ngày", "it comes late, with only 1 day left"),
    ],
)
def test_a_late_notice_of_expiry_says_how_many_days_are_left(days, vi, en):
    for lang, words in (("vi", vi), ("en", en)):
        r = render("certificate_expiring", lang, {**sample_context("certificate_expiring"), "days_left": days})
        assert words in r.text and words in r.html
        assert "at least 30 days" not in r.text and "ít nhất 30 ngày" not in r.text
    on_time = render("certificate_expiring", "en", {**sample_context("certificate_expiring"), "days_left": 30})
    assert "at least 30 days before a certificate expires" in on_time.text and "comes late" not in on_time.text


@pytest.mark.parametrize("name", ["invitation", "promotion"])
def test_an_invitation_names_the_producers_province_with_its_former_name(name):
    """A producer entered under a pre-2025 province reads both names ("Vĩnh Long (Bến Tre cũ)")."""
    old = {"producer_province": "Vĩnh Long", "producer_province_entered": "Bến Tre"}
    vi, en = letter(name, "vi", **old), letter(name, "en", **old)
    assert "Chủ thể đăng ký tại: Vĩnh Long (Bến Tre cũ)" in vi.text and "Vĩnh Long (Bến Tre cũ)" in vi.html
    assert "Producer of record in: Vĩnh Long (formerly Bến Tre)" in en.text
    same = letter(name, "vi", producer_province="Cần Thơ", producer_province_entered="Cần Thơ")
    assert "Chủ thể đăng ký tại: Cần Thơ\n" in same.text and "cũ)" not in same.text
    none = letter(name, "vi", producer_province=None, producer_province_entered=None)
    assert "Chủ thể đăng ký tại" not in none.text + none.html
