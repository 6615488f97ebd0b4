"""Rendering messages (subject, plain text, HTML, SMS, calendar file) in the recipient's language,
Vietnamese by default, and the answer pages. Templates: ``templates/messages/<name>/``; their
words are translated through the Babel catalogues (see i18n.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache

from jinja2 import nodes
from jinja2.runtime import new_context

from shared.text import fold

from . import domain, ics
from .i18n import environment, language_of


@dataclass
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=PUBLISH"
    content: str

    def as_dict(self) -> dict:
        return {"filename": self.filename, "content_type": self.content_type, "content": self.content}


@dataclass
class Rendered:
    template: str
    language: str
    subject: str
    text: str
    html: str
    sms: domain.Sms | None = None
    attachments: list[Attachment] = field(default_factory=list)


def _part(lang: str, name: str, part: str, ctx: dict) -> str:
    return environment(lang, html=part.endswith(".html")).get_template(f"messages/{name}/{part}").render(**ctx)


def _tidy(text: str) -> str:
    """Plain text as people write it: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


@lru_cache(maxsize=4096)  # a fair's name, in every message about it
def slug(value: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(value))[:limit].strip("-") or "ocop"


def render(
    name: str,
    language: str | None,
    ctx: dict,
    *,
    sms_link: str | None = None,
    sms_mode: str = "ucs2",
    sms_max_segments: int = 4,
    calendar_uid: str | None = None,
    email: bool = True,
    sms: bool = True,
) -> Rendered:
    """Every part of message ``name`` for one recipient (``email=False``: no HTML or calendar file;
    ``sms=False``: no SMS; the subject and plain text always). ``ctx`` holds the template's fields
    (for the invitation: recipient, fair, products, deadline, link). Raises jinja2's
    UndefinedError when a field is missing."""
    kind = domain.MESSAGES[name]
    lang = language_of(language)
    subject = " ".join(_part(lang, name, "subject.txt", ctx).split())
    text = _tidy(_part(lang, name, "body.txt", ctx))
    html = _part(lang, name, "body.html", ctx).strip() + "\n" if email else ""
    short = None
    if sms:
        short = domain.fit_sms(
            lambda clip: _part(lang, name, "sms.txt", {**ctx, "clip_to": clip}),
            sms_link if sms_link is not None else ctx.get("link") or "",
            sms_mode,
            sms_max_segments,
        )
    out = Rendered(name, lang, subject, text, html, short)
    calendar = ctx.get("calendar", {})  # None: this message carries no calendar file
    if email and kind.calendar and calendar is not None:
        out.attachments.append(_calendar(lang, name, ctx, calendar_uid or name, calendar))
    return out


def _calendar(lang: str, name: str, ctx: dict, uid: str, options: dict) -> Attachment:
    """The fair's entry in the producer's calendar. Every message about one invitation carries the
    same UID with a later SEQUENCE (``options``: sequence, status, alarm), so the newest file
    replaces the entry: the fair's new dates, its booth, or its cancellation."""
    template, blocks = _calendar_blocks(lang, name)
    context = new_context(template.environment, template.name, blocks, dict(ctx), globals=template.globals)

    def block(part: str) -> str:
        return "".join(blocks[part](context)).strip() if part in blocks else ""

    alarm = options.get("alarm", True)
    content = ics.fair_event(
        uid=uid,
        fair=ctx["fair"],
        summary=" ".join(block("summary").split()),
        description=_tidy(block("description")).strip(),
        url=ctx.get("link"),
        deadline=ctx.get("deadline") if alarm else None,
        alarm_text=" ".join(block("alarm").split()),
        sequence=options.get("sequence", 0),
        status=options.get("status"),
    )
    return Attachment(f"{slug(ctx['fair']['name'])}.ics", "text/calendar; method=PUBLISH", content)


@cache
def _calendar_blocks(lang: str, name: str):
    """A calendar template and its blocks, those it inherits included (``{% extends %}``: the
    promotion's file is the invitation's)."""
    env = environment(lang)
    chain, template_name = [], f"messages/{name}/calendar.txt"
    while template_name:
        chain.append(env.get_template(template_name))
        source = env.loader.get_source(env, template_name)[0]
        parents = [n.template.value for n in env.parse(source).find_all(nodes.Extends)]
        template_name = parents[0] if parents else None
    blocks = {}
    for template in reversed(chain):
        blocks.update(template.blocks)
    return chain[0], blocks


def fair_calendar(language: str | None, invitation: dict) -> str:
    """The calendar file of an accepted invitation (``views.view_dict``), as the confirmation
    carries it: same UID (the invitation's), a SEQUENCE from now so it replaces what was sent."""
    lang = language_of(language)
    ctx = {"fair": invitation["fair"], "products": invitation["products"], "booths": invitation["booths"]}
    options = {"status": "CONFIRMED", "sequence": domain.calendar_sequence(datetime.now(UTC)), "alarm": False}
    return _calendar(lang, "accepted", ctx, invitation["invitation_id"], options).content


# ---- the answer page ----------------------------------------------------------------------------------
def render_page(language: str | None, state: str, **ctx) -> str:
    """The producer's answer page (``templates/page.html``) in the producer's language: ``state``
    says what to show (see the template)."""
    lang = language_of(language)
    defaults = {
        "inv": None,
        "form": False,
        "now_state": None,
        "errors": [],
        "booths": [],
        "cause": None,
        "detail": None,
        "answer": None,
        "nonce": "",  # nonce: the response's CSP nonce (shared.pages)
        "refresh": None,
        "calendar_url": None,
    }
    return environment(lang, html=True).get_template("page.html").render(**{**defaults, **ctx, "state": state})
