"""Vietnamese first, English available: a small message catalogue and date formatting.

Messages are written in Vietnamese in the code and templates (``_("…")``); ``translations/en.json``
maps them to English. Dates are shown as dd/mm/yyyy in Vietnam's time zone (UTC+7, no daylight
saving), whatever the server's zone.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from flask import Flask, has_request_context, session

from omr.vocab import VN_TZ

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
CATALOGUE_DIR = Path(__file__).parent / "translations"


@cache
def catalogue(lang: str) -> dict[str, str]:
    path = CATALOGUE_DIR / f"{lang}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def lang() -> str:
    if has_request_context():
        value = session.get("lang")
        if value in LANGS:
            return value
    return DEFAULT_LANG


def _(text: str) -> str:
    if lang() == DEFAULT_LANG:
        return text
    return catalogue(lang()).get(text, text)


def local(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite hands back naive UTC
        t = t.replace(tzinfo=UTC)
    return t.astimezone(VN_TZ)


def fmt_date(t: datetime | date | None) -> str:
    if t is None:
        return ""
    if isinstance(t, datetime):
        t = local(t)
        assert t is not None
    return t.strftime("%d/%m/%Y")


def fmt_datetime(t: datetime | None) -> str:
    t = local(t)
    return t.strftime("%d/%m/%Y %H:%M") if t else ""


def fmt_percent(x: float | None) -> str:
    if x is None:
        return "—"
    s = f"{x * 100:.1f}"
    # Vietnamese writes a decimal comma
    return (s.replace(".", ",") if lang() == "vi" else s) + " %"


def fmt_int(n: float | None) -> str:
    if n is None:
        return "—"
    s = f"{round(n):,}"
    return s.replace(",", ".") if lang() == "vi" else s


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=_, lang=lang)
    app.jinja_env.filters.update(date=fmt_date, datetime=fmt_datetime, percent=fmt_percent, num=fmt_int)
