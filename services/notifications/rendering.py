"""Jinja2 rendering of messages and pages, Vietnamese by default."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SUBJECTS = {
    ("invitation", "vi"): "Thư mời tham gia {name}",
    ("invitation", "en"): "Invitation to {name}",
}


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def vn_date(value) -> str:
    return _as_date(value).strftime("%d/%m/%Y")


def vn_datetime(value) -> str:
    return _as_datetime(value).astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y")


def vnd(value) -> str:
    return f"{int(value):,}".replace(",", ".") + " đ"


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                    autoescape=select_autoescape(["html"]), undefined=StrictUndefined)
    e.filters.update(vn_date=vn_date, vn_datetime=vn_datetime, vnd=vnd)
    return e


def render_message(template: str, language: str, **ctx) -> tuple[str, str, str]:
    """(subject, text, html) in the recipient's language, falling back to Vietnamese."""
    lang = language if (template, language) in SUBJECTS else "vi"
    subject = SUBJECTS[(template, lang)].format(name=ctx["fair"]["name"])
    text = env().get_template(f"{template}.{lang}.txt").render(**ctx)
    html = env().get_template(f"{template}.{lang}.html").render(**ctx)
    return subject, text, html


def render_page(**ctx) -> str:
    ctx.setdefault("inv", None)
    ctx.setdefault("form", False)
    ctx.setdefault("message", None)
    return env().get_template("page.html").render(**ctx)
