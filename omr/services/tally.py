"""The one computation behind every result: tallies, satisfaction index and sheet accounting.

``compute(session, period, unit_code, form_id)`` answers, for a period and a unit *with everything
under it* (a province includes its wards, a ward its service points), per form × question × option:
how many answered, left blank or still wait for a reviewer, the share of each option, and the
satisfaction index (share of the options a scale marks as ``satisfied`` — "Rất hài lòng" + "Hài
lòng" — among the answers given) per question, element, form and unit, against the target and the
previous period. The command line exports, the PDF report and the web pages all read this result, so
the numbers cannot disagree.

Counting rules, applied in SQL:
- only pages whose status is in ``COUNTED_STATUSES``; of several counted pages for one
  (serial, sheet page) only the first stored counts, so a page stored twice is never counted twice;
- only final answers: ``final_state`` set (by the machine or a reviewer); ``final_state`` null is
  "đang chờ duyệt" and shown as such, never folded into blanks or dropped;
- a page belongs to the period of its survey day (``pages.survey_date``): the day it was scanned
  (Vietnam time), moved into the survey month of its scan batch, so November's box scanned on
  2 December counts in November (omr.services.survey_period);
- a period not yet over is counted up to its as-of day (default: today), and progress is compared
  with the share of the period (and of the year) elapsed by then, not with the whole of it.

Quotas (seed 002): each unit's yearly number of sheets (``quota_of``: its own setting, else 420 for a
ward or commune, 200 for an office such as a district's one-stop office, 0 for a service point), and
a unit's quota counts every unit under it that is expected to survey, whether it has printed yet or
not. The response rate is the sheets returned in the year so far against the sheets printed in it.
Under a form filter, each unit's quota counts in the share of that form among the sheets the unit
printed this year (a unit that printed none has no share yet); no share at all: not applicable.

Everything is aggregated by the database (a recursive CTE for the unit tree, GROUP BY for counts);
Python only reshapes the few hundred grouped rows. The index of an element, a form or a unit pools
its questions (satisfied answers / answers given), so it always rests on the ``answered`` shown
beside it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, exists, func, or_, select, text
from sqlalchemy.orm import Session

from db.models import Answer, Page, PrintBatch, Sheet, TextArea, Unit, local_date, local_today
from omr.services import ServiceError, sheet_counts
from omr.services.units import scope_cte
from omr.sheet.templates import Field, Form, Option, UnknownForm, Variant, all_forms, get_form
from omr.values import split_values
from omr.vocab import COUNTED_STATUSES, NEEDS_REVIEW, VN_TZ

DEFAULT_TARGET = 0.90  # seed 000: "Chỉ số Hài lòng ... đạt từ 90% trở lên"
# seed 002: 420 sheets a year per commune/ward/town, 200 for the district's one-stop office; a unit of
# any other kind (a province, a school, a clinic) surveys only with a quota of its own
QUOTAS = {"ward": 420, "commune": 420, "special": 420, "office": 200}
# questions that split the index: the procedure area and the counter (form kien-hung-2020), and any
# question whose options are a unit's counters
BREAKDOWN_FIELDS = ("q_area", "q_counter")
TREND_MONTHS = 12
SCORE = 1000  # breakdown score per page: SCORE × satisfied + answered (a page has far fewer questions)

# answer classes (an answer counted as given, left blank, or still waiting; not answer states)
CLASS_ANSWERED, CLASS_BLANK, CLASS_PENDING = "answered", "blank", "pending"


class TallyError(ServiceError):
    """A user's mistake (bad period, unknown unit or form): ``str(e)`` is one Vietnamese line."""


# --------------------------------------------------------------------------- periods

_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


@dataclass(frozen=True)
class Period:
    """A reporting period: a month, a quarter, a year or any range of days (``end`` exclusive)."""

    kind: str  # month | quarter | year | range
    start: date
    end: date

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """``2026-11``, ``2026-Q4``, ``2026``, ``2026-11-05`` or ``2026-01-15..2026-02-10`` (inclusive)."""
        if isinstance(text, Period):
            return text
        s = str(text).strip()
        try:
            if m := re.fullmatch(r"(\d{4})", s):
                return cls.year(int(m[1]))
            if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", s):
                return cls.quarter(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
                return cls.month(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/|:)\s*(\d{4}-\d{2}-\d{2})", s):
                first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
                if last < first:
                    raise TallyError(f"kỳ báo cáo không hợp lệ: {s!r} (ngày cuối trước ngày đầu)")
                return cls("range", first, last + timedelta(days=1))
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
                day = date.fromisoformat(s)
                return cls("range", day, day + timedelta(days=1))
        except ValueError as e:
            if isinstance(e, TallyError):
                raise
            raise TallyError(f"kỳ báo cáo không hợp lệ: {s!r} ({e})") from e
        raise TallyError(f"kỳ báo cáo không hợp lệ: {s!r} (dùng 2026-11, 2026-Q4, 2026 hoặc 2026-01-15..2026-02-10)")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        if not 1 <= month <= 12:
            raise TallyError(f"kỳ báo cáo không hợp lệ: không có tháng {month}")
        start = date(year, month, 1)
        return cls("month", start, _add_months(start, 1))

    @classmethod
    def quarter(cls, year: int, q: int) -> Period:
        start = date(year, 3 * (q - 1) + 1, 1)
        return cls("quarter", start, _add_months(start, 3))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls("year", date(year, 1, 1), date(year + 1, 1, 1))

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def code(self) -> str:
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{quarter_of(self.start)}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        """Vietnamese, as written in a report: "tháng 11 năm 2026", "quý IV năm 2026"…"""
        y = self.start.year
        if self.kind == "month":
            return f"tháng {self.start.month} năm {y}"
        if self.kind == "quarter":
            return f"quý {_ROMAN[quarter_of(self.start)]} năm {y}"
        if self.kind == "year":
            return f"năm {y}"
        if self.start == self.last_day:
            return f"ngày {self.start:%d/%m/%Y}"
        return f"từ ngày {self.start:%d/%m/%Y} đến ngày {self.last_day:%d/%m/%Y}"

    @property
    def short_label(self) -> str:
        """For table headers and chart axes: "11/2026", "Q4/2026", "2026"."""
        if self.kind == "month":
            return f"{self.start.month:02d}/{self.start.year}"
        if self.kind == "quarter":
            return f"Q{quarter_of(self.start)}/{self.start.year}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start:%d/%m/%Y}–{self.last_day:%d/%m/%Y}"

    def previous(self) -> Period:
        if self.kind == "month":
            return Period("month", _add_months(self.start, -1), self.start)
        if self.kind == "quarter":
            return Period("quarter", _add_months(self.start, -3), self.start)
        if self.kind == "year":
            return Period.year(self.start.year - 1)
        return Period("range", self.start - (self.end - self.start), self.start)

    def trend_months(self, n: int = TREND_MONTHS) -> list[Period]:
        """The ``n`` months ending with the month of the period's last day."""
        last = self.last_day
        first = _add_months(date(last.year, last.month, 1), -(n - 1))
        return [Period.month(d.year, d.month) for d in (_add_months(first, i) for i in range(n))]

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as UTC datetimes, for what is stamped in UTC (print batches)."""
        return _utc(self.start), _utc(self.end)

    def span(self, as_of: date | None = None) -> tuple[date, date]:
        """[start, end) of the survey days counted: the period, up to ``as_of`` included if given."""
        if as_of is None:
            return self.start, self.end
        return self.start, max(self.start, min(self.end, as_of + timedelta(days=1)))

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def elapsed(self, as_of: date) -> float:
        """Share of the period's days passed by the end of ``as_of`` (0 before it starts, 1 once over)."""
        return min(1.0, max(0, (as_of - self.start).days + 1) / self.days)

    def calendar_year(self) -> Period:
        """The calendar year of the period's last day: the year its quota and its year so far belong to."""
        return Period.year(self.last_day.year)

    def year_elapsed(self, as_of: date | None = None) -> float:
        """Share of the year of the period's last day passed by the end of ``as_of`` (default: the
        period's last day)."""
        return self.calendar_year().elapsed(self.last_day if as_of is None else as_of)

    def __str__(self) -> str:
        return self.code


def quarter_of(d: date) -> int:
    """1-4: the quarter of the year that ``d`` falls in."""
    return (d.month - 1) // 3 + 1


def _add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=VN_TZ).astimezone(UTC)


# --------------------------------------------------------------------------- result types


@dataclass
class Index:
    """Satisfied answers among answers given, beside the count it rests on."""

    satisfied: int
    answered: int
    value: float | None  # 0..1, None when nothing was answered
    target: float
    meets_target: bool | None
    previous: float | None = None
    change: float | None = None  # value - previous, in 0..1 units

    @classmethod
    def of(cls, satisfied: int, answered: int, target: float, previous: Index | float | None = None) -> Index:
        value = satisfied / answered if answered else None
        prev = previous.value if isinstance(previous, Index) else previous
        return cls(
            satisfied=satisfied,
            answered=answered,
            value=value,
            target=target,
            meets_target=None if value is None else value >= target - 1e-12,
            previous=prev,
            change=None if value is None or prev is None else value - prev,
        )


@dataclass
class OptionCount:
    value: str
    label: str
    count: int
    share: float | None  # of the answers given to the question


@dataclass
class QuestionTally:
    field: str
    label: str
    kind: str  # single | multi
    element: str | None
    page: int
    responses: int  # counted sheets that carry the question's page
    answered: int
    blank: int
    pending: int
    options: list[OptionCount]
    index: Index | None  # only for questions on a satisfaction scale


@dataclass
class ElementIndex:
    element: str
    fields: list[str]
    index: Index


@dataclass
class BreakdownRow:
    value: str
    label: str
    responses: int  # sheets giving this answer
    index: Index


@dataclass
class Breakdown:
    field: str
    label: str
    rows: list[BreakdownRow]


@dataclass
class FormTally:
    form_id: str
    version: int
    title: str
    responses: int
    pending_responses: int  # sheets with at least one answer still waiting for a reviewer
    questions: list[QuestionTally]
    elements: list[ElementIndex]
    index: Index
    breakdowns: list[Breakdown]


@dataclass
class SheetAccount:
    """Sheets printed and returned, and the progress against the quota, up to the as-of day.

    "The year" is the calendar year of the period's last day, from 1 January to the as-of day."""

    printed: int  # sheets printed in the period
    returned: int  # sheets counted in the period (responses)
    year_printed: int  # sheets printed in the year so far
    year_returned: int  # sheets counted in the year so far
    response_rate: float | None  # year_returned / year_printed ("tỉ lệ thu về"); None: nothing printed
    quota_applies: bool  # False under a form filter no unit has printed that form for: "không áp dụng"
    yearly_quota: int  # the units' yearly quotas (under a form filter: that form's share)
    quota_progress: float | None  # year_returned / yearly_quota; None when no quota applies
    expected_progress: float  # share of the year elapsed by the as-of day: where a steady pace would be
    period_quota: int  # the period's share of the yearly quota (a month of 30 days: 30/365 of it)
    period_progress: float | None  # returned / period_quota; None when no quota applies
    period_expected: float  # share of the period elapsed by the as-of day (1.0 once it is over)


@dataclass
class UnitTally:
    """One unit directly under the report's unit (or the unit itself, for its own sheets)."""

    code: str
    name: str
    kind: str
    own: bool  # the report's unit itself (its own sheets, without the units under it)
    responses: int
    index: Index
    form_index: dict[str, Index]
    sheets: SheetAccount


@dataclass
class TrendPoint:
    period: str  # "2026-11"
    label: str  # "11/2026"
    responses: int
    index: Index


@dataclass
class UnitInfo:
    code: str
    name: str
    kind: str
    parent_code: str | None
    parent_name: str | None


@dataclass
class PeriodInfo:
    code: str
    kind: str
    label: str
    short_label: str
    start: date
    end: date  # exclusive
    previous: str
    as_of: date  # figures count the survey days up to this one, included
    complete: bool  # the period is over by the as-of day
    elapsed: float  # share of the period's days passed by the as-of day
    as_of_label: str | None  # "số liệu tính đến ngày 10/12/2026" for a period not yet over, else None


@dataclass
class TallyResult:
    period: PeriodInfo
    unit: UnitInfo | None  # None: the whole installation
    form_id: str | None
    target: float
    generated_at: datetime
    responses: int
    pending_responses: int
    index: Index  # every index question of every form, pooled
    forms: list[FormTally]
    units: list[UnitTally]
    sheets: SheetAccount
    pages_by_status: dict[str, int]  # every page stored in the period for these units, by status
    trend: list[TrendPoint]
    comments: int  # handwritten comments (non-personal free-text areas with writing)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only (dates as ISO text), for the web pages and ``json.dumps``."""
        return _plain(self)

    def form(self, form_id: str) -> FormTally:
        for f in self.forms:
            if f.form_id == form_id:
                return f
        raise KeyError(form_id)

    @property
    def unit_name(self) -> str:
        return self.unit.name if self.unit else "Tất cả đơn vị"


def _plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return obj


# --------------------------------------------------------------------------- SQL building blocks

_pages = Page.__table__
_answers = Answer.__table__
_units = Unit.__table__


def _first_of_its_kind(p):
    """No counted page with the same serial and sheet page was stored before this one (any period)."""
    earlier = _pages.alias("earlier")
    return ~exists().where(
        earlier.c.serial == p.c.serial,
        earlier.c.sheet_page == p.c.sheet_page,
        earlier.c.status.in_(COUNTED_STATUSES),
        earlier.c.id < p.c.id,
    )


def _opens_its_sheet(p):
    """The lowest counted sheet page of its serial: the page that makes the sheet one response, so
    a two-page sheet counts once and the count stays additive across units and months."""
    lower = _pages.alias("lower")
    return or_(
        p.c.sheet_page == 1,
        ~exists().where(
            lower.c.serial == p.c.serial,
            lower.c.sheet_page < p.c.sheet_page,
            lower.c.status.in_(COUNTED_STATUSES),
        ),
    )


def _in_window(p, start: date, end: date, form_id: str | None) -> list:
    cond = [p.c.survey_date >= start, p.c.survey_date < end]
    if form_id:
        cond.append(p.c.form_id == form_id)
    return cond


def _counted(p, start: date, end: date, form_id: str | None) -> list:
    """Conditions for a page that counts: counted status, in the window, the first of its kind."""
    return [p.c.status.in_(COUNTED_STATUSES), *_in_window(p, start, end, form_id), _first_of_its_kind(p)]


def _answer_class(a):
    return case(
        (a.c.final_state.is_(None), CLASS_PENDING),
        (or_(a.c.final_value.is_(None), a.c.final_value == ""), CLASS_BLANK),
        else_=CLASS_ANSWERED,
    )


def _final_value(a):
    return case((a.c.final_state.is_(None), None), else_=a.c.final_value)


@dataclass(frozen=True)
class _Window:
    """A span of survey days cut into buckets at the given days: one query, bucketed by one CASE."""

    days: tuple[date, ...]  # d0 < d1 < … < dn: bucket i is [d_i, d_i+1)

    @property
    def start(self) -> date:
        return self.days[0]

    @property
    def end(self) -> date:
        return self.days[-1]

    def bucket(self, col):
        inner = self.days[1:-1]
        if not inner:
            return case((col < self.end, 0), else_=0)
        return case(*[(col < b, i) for i, b in enumerate(inner)], else_=len(inner))

    def key(self, bucket: int) -> date:
        return self.days[bucket]


@dataclass
class _Ctx:
    session: Session
    root: str | None
    form_id: str | None

    def scope(self):
        return scope_cte(self.root)

    def rows(self, stmt: Select) -> list[tuple]:
        return [tuple(r) for r in self.session.execute(stmt)]


def _answer_groups(ctx: _Ctx, w: _Window) -> list[tuple]:
    """(bucket, branch, form, field, final value, class, count) for every counted answer."""
    scope, p, a = ctx.scope(), _pages, _answers
    cls, val, bucket = _answer_class(a), _final_value(a), w.bucket(p.c.survey_date)
    stmt = (
        select(bucket, scope.c.branch, p.c.form_id, a.c.field, val, cls, func.count())
        .select_from(a.join(p, a.c.page_id == p.c.id).join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, w.start, w.end, ctx.form_id))
        .group_by(bucket, scope.c.branch, p.c.form_id, a.c.field, val, cls)
    )
    return ctx.rows(stmt)


def _page_groups(ctx: _Ctx, w: _Window) -> list[tuple]:
    """(bucket, branch, form, sheet page, pages, responses) of the counted pages."""
    scope, p = ctx.scope(), _pages
    bucket = w.bucket(p.c.survey_date)
    opens = func.sum(case((_opens_its_sheet(p), 1), else_=0))
    stmt = (
        select(bucket, scope.c.branch, p.c.form_id, p.c.sheet_page, func.count(), opens)
        .select_from(p.join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, w.start, w.end, ctx.form_id))
        .group_by(bucket, scope.c.branch, p.c.form_id, p.c.sheet_page)
    )
    return ctx.rows(stmt)


def _status_counts(ctx: _Ctx, w: _Window) -> dict[str, int]:
    """Every page stored in the window for these units, counted or not, by status: the report
    shows what was left out (duplicates, conflicts, invalid codes) and why."""
    scope, p = ctx.scope(), _pages
    stmt = (
        select(p.c.status, func.count())
        .where(*_in_window(p, w.start, w.end, ctx.form_id), p.c.unit_code.in_(select(scope.c.code)))
        .group_by(p.c.status)
    )
    return dict(sorted(ctx.rows(stmt)))


def _history_answers(ctx: _Ctx, w: _Window, index_fields: set[str]) -> list[tuple]:
    """(bucket, branch, form, field, final value, count): answers to index questions outside the
    period, for the previous period (of each unit too) and the trend."""
    scope, p, a = ctx.scope(), _pages, _answers
    if not index_fields:
        return []
    bucket = w.bucket(p.c.survey_date)
    stmt = (
        select(bucket, scope.c.branch, p.c.form_id, a.c.field, a.c.final_value, func.count())
        .select_from(a.join(p, a.c.page_id == p.c.id).join(scope, scope.c.code == p.c.unit_code))
        .where(
            *_counted(p, w.start, w.end, ctx.form_id),
            # field || '': keeps SQLite from probing the (page_id, field) index once per listed
            # field (47 with every form installed); reading the page's few answers is cheaper
            a.c.field.concat("").in_(sorted(index_fields)),
            a.c.final_state.is_not(None),
            a.c.final_value.is_not(None),
            a.c.final_value != "",
        )
        .group_by(bucket, scope.c.branch, p.c.form_id, a.c.field, a.c.final_value)
    )
    return ctx.rows(stmt)


def _history_responses(ctx: _Ctx, w: _Window) -> list[tuple]:
    """(bucket, branch, responses) outside the period: the trend and the year so far."""
    scope, p = ctx.scope(), _pages
    bucket = w.bucket(p.c.survey_date)
    stmt = (
        select(bucket, scope.c.branch, func.count())
        .select_from(p.join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, w.start, w.end, ctx.form_id), _opens_its_sheet(p))
        .group_by(bucket, scope.c.branch)
    )
    return ctx.rows(stmt)


def _pending_sheets(ctx: _Ctx, w: _Window) -> dict[str, int]:
    """form -> sheets with at least one answer still waiting (a two-page sheet counts once)."""
    scope, p, a = ctx.scope(), _pages, _answers
    has_pending = exists().where(a.c.page_id == p.c.id, a.c.final_state.is_(None))
    stmt = (
        select(p.c.form_id, func.count(p.c.serial.distinct()))
        .select_from(p.join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, w.start, w.end, ctx.form_id), p.c.status == NEEDS_REVIEW, has_pending)
        .group_by(p.c.form_id)
    )
    return {f: n for f, n in ctx.rows(stmt)}


def _breakdown_groups(ctx: _Ctx, w: _Window, form: Form, by: list[Field]) -> list[tuple[str, int]]:
    """(key, pages) for one form, the key being "breakdown value|…|score" per page: the page's
    answers to the breakdown questions (procedure area, counter) and, in ``score`` = 1000 × satisfied
    + answered, how its index questions on the same page were answered. One correlated subquery per
    page, grouped on these few keys: a self-join of answers, or a GROUP BY page before the GROUP BY
    key, costs SQLite twice as much, and counts (not each index answer) keep the keys few on forms
    with many questions."""
    scope, p, a = ctx.scope(), _pages, _answers
    page = by[0].page
    questions = [f for f in form.fields() if f.is_index_question and f.page == page]
    if not questions:
        return []
    given = and_(a.c.field.in_([f.id for f in questions]), a.c.final_value.is_not(None), a.c.final_value != "")
    by_sets: dict[frozenset[str], list[str]] = defaultdict(list)
    for f in questions:
        by_sets[f.satisfied].append(f.id)
    happy = or_(*[and_(a.c.field.in_(ids), a.c.final_value.in_(sorted(s))) for s, ids in by_sets.items()])
    score = func.coalesce(func.sum(case((and_(given, happy), SCORE + 1), (given, 1), else_=0)), 0)
    key: ColumnElement[str] | None = None
    for f in by:
        part = func.coalesce(func.max(case((a.c.field == f.id, a.c.final_value))), "")
        key = part if key is None else key.concat("|").concat(part)
    assert key is not None
    key = key.concat("|").concat(cast(score, String))
    per_page = select(key).where(a.c.page_id == p.c.id, a.c.final_state.is_not(None)).scalar_subquery()
    inner = (
        select(per_page.label("k"))
        .select_from(p.join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, w.start, w.end, form.id), p.c.sheet_page == page)
        .subquery()
    )
    return ctx.rows(select(inner.c.k, func.count()).group_by(inner.c.k))


def _printed(ctx: _Ctx, period_start: date, year_start: date, end: date) -> list[tuple[str, str, str, bool, bool, int]]:
    """(branch, unit, form, in the period, in the year, sheets) printed before ``end`` since the period
    or the year began, of every form (the form filter's share is worked out from them)."""
    scope, pb = ctx.scope(), PrintBatch.__table__
    in_period = case((pb.c.created_at >= _utc(period_start), True), else_=False)
    in_year = case((pb.c.created_at >= _utc(year_start), True), else_=False)
    stmt = (
        select(scope.c.branch, pb.c.unit_code, pb.c.form_id, in_period, in_year, func.sum(pb.c.count))
        .select_from(pb.join(scope, scope.c.code == pb.c.unit_code))
        .where(pb.c.created_at >= _utc(min(period_start, year_start)), pb.c.created_at < _utc(end))
        .group_by(scope.c.branch, pb.c.unit_code, pb.c.form_id, in_period, in_year)
    )
    return [(b, u, f, bool(ip), bool(iy), int(n or 0)) for b, u, f, ip, iy, n in ctx.rows(stmt)]


def _quota_units(ctx: _Ctx) -> list[tuple[str, str, int]]:
    """(branch, code, yearly quota) of every unit in scope whose quota is not zero: each is expected
    to survey, whether it has printed sheets yet or not."""
    scope, u = ctx.scope(), _units
    stmt = select(scope.c.branch, u.c.code, u.c.kind, u.c.yearly_quota).select_from(
        scope.join(u, u.c.code == scope.c.code)
    )
    return [(b, code, q) for b, code, kind, own in ctx.rows(stmt) if (q := quota_of(kind, own))]


def quota_of(kind: str, yearly_quota: int | None) -> int:
    """A unit's yearly number of sheets: its own setting, else its kind's (``QUOTAS``; 0 for others)."""
    if yearly_quota is not None:
        return yearly_quota
    return QUOTAS.get(kind, 0)


@dataclass
class _Sheets:
    """The rows behind every ``SheetAccount`` of one tally, per branch."""

    printed: dict[str, int]  # in the period, of the form shown (all forms without a filter)
    year_printed: dict[str, int]  # in the year so far, likewise
    quotas: dict[str, float]  # yearly quota; under a form filter, the form's share of it

    @classmethod
    def collect(cls, ctx: _Ctx, period: Period, end: date) -> _Sheets:
        printed: dict[str, int] = defaultdict(int)
        year_printed: dict[str, int] = defaultdict(int)
        by_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # unit -> form -> year
        for branch, unit, form, in_period, in_year, n in _printed(ctx, period.start, period.calendar_year().start, end):
            if in_year:
                by_unit[unit][form] += n
            if ctx.form_id not in (None, form):
                continue
            if in_period:
                printed[branch] += n
            if in_year:
                year_printed[branch] += n
        quotas: dict[str, float] = defaultdict(float)
        for branch, unit, quota in _quota_units(ctx):
            if ctx.form_id is None:
                quotas[branch] += quota
            elif total := sum(by_unit[unit].values()):
                quotas[branch] += quota * by_unit[unit].get(ctx.form_id, 0) / total
        return cls(printed, year_printed, quotas)


# --------------------------------------------------------------------------- assembling the result


def _options_for(f: Field, seen: Iterable[str]) -> list[Option]:
    """The field's options, plus any value found on paper that the template does not list (a
    counter beyond the current number of counters) so no answer vanishes from the table."""
    opts = list(f.options)
    known = {o.value for o in opts}
    extra = sorted({v for v in seen if v not in known}, key=lambda v: (len(v), v))
    for v in extra:
        opts.append(Option(v, f"Quầy {v}" if f.options_from == "counters" else v))
    return opts


def _split(f: Field, value: str) -> list[str]:
    return split_values(value) if f.kind == "multi" else [value]


def _choice_fields(form: Form) -> list[Field]:
    return [f for f in form.fields() if f.kind in ("single", "multi")]


def _breakdown_fields(form: Form) -> list[Field]:
    return [f for f in _choice_fields(form) if f.id in BREAKDOWN_FIELDS or f.options_from == "counters"]


def _index_fields(forms: Iterable[Form]) -> set[str]:
    return {f.id for form in forms for f in form.fields() if f.is_index_question}


def _load_form(form_id: str, warnings: list[str]) -> Form | None:
    try:
        return get_form(form_id)
    except UnknownForm:
        warnings.append(f"có phiếu của mẫu {form_id!r} không còn trong cài đặt: không tính")
        return None


_Rows = list[tuple[str, str | None, int]]  # (field, final value, count)


def _sat_counts(form: Form, rows: Iterable[tuple[str, str | None, int]]) -> tuple[int, int]:
    """(satisfied, answered) over (field, value, count) rows of one form's index questions."""
    sat = ans = 0
    for fid, value, n in rows:
        try:
            f = form.field(fid)
        except KeyError:
            continue
        if not f.is_index_question or value is None or value == "":
            continue
        ans += n
        if value in f.satisfied:
            sat += n
    return sat, ans


def _plan(
    period: Period, end: date, cap: date, prev: Period, months: list[Period]
) -> tuple[_Window, _Window | None, _Window | None]:
    """Cut time at every day that starts or ends something shown (the period up to ``end``, the
    previous period, each trend month, 1 January for the year so far), none after ``cap`` (the day
    after the as-of day): the period's own query is bucketed at the cuts inside it, and at most two
    more queries cover what lies before and after it."""
    cuts = {prev.start, prev.end, period.calendar_year().start}
    for m in months:
        cuts |= {m.start, m.end}
    cuts = {min(c, cap) for c in cuts} | {period.start, end}
    main = _Window(tuple(sorted(d for d in cuts if period.start <= d <= end)))
    before = sorted(d for d in cuts if d <= period.start)
    after = sorted(d for d in cuts if d >= end)
    return (
        main,
        _Window(tuple(before)) if len(before) > 1 else None,
        _Window(tuple(after)) if len(after) > 1 else None,
    )


def as_of_day(period: Period, as_of: date | str | None = None) -> date:
    """The last survey day a tally of ``period`` counts: ``as_of`` ("2026-12-10"), checked not to be
    still to come, else today or, once the period is over, its last day."""
    now = local_today()
    if as_of is None:
        return min(now, period.last_day)
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of.strip())
        except ValueError:
            raise TallyError(f"Ngày tính số liệu không hợp lệ: {as_of!r} (ghi dạng 2026-12-10)") from None
    if as_of > now:
        raise TallyError(f"Ngày tính số liệu {as_of:%d/%m/%Y} chưa tới (hôm nay là {now:%d/%m/%Y})")
    return min(as_of, period.last_day)


@dataclass
class _Data:
    """The grouped rows of one tally, keyed for the reshaping below."""

    # (form, field) -> value -> count, and -> class -> count, over the period
    values: dict[tuple[str, str], dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    classes: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    by_branch: dict[tuple[str, str], _Rows] = field(default_factory=lambda: defaultdict(list))  # (branch, form)
    # segment start day -> (branch, form) -> rows of answered index questions (period and history)
    segments: dict[date, dict[tuple[str, str], _Rows]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    pages: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))  # (form, sheet page)
    responses_form: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    responses_branch: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # segment start day -> branch -> responses
    segment_responses: dict[date, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    status: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def index_rows(self, start: date, end: date, branch: str | None = None) -> dict[str, _Rows]:
        """form -> answered index rows in [start, end), of every unit or of one branch."""
        out: dict[str, _Rows] = defaultdict(list)
        for day, per_key in self.segments.items():
            if start <= day < end:
                for (b, fid), rows in per_key.items():
                    if branch is None or b == branch:
                        out[fid].extend(rows)
        return out

    def responses(self, start: date, end: date, branch: str | None = None) -> int:
        return sum(
            n
            for day, per_branch in self.segment_responses.items()
            if start <= day < end
            for b, n in per_branch.items()
            if branch is None or b == branch
        )


def _collect(ctx: _Ctx, main: _Window, before: _Window | None, after: _Window | None, index_fields: set[str]) -> _Data:
    d = _Data()
    for bucket, branch, fid, fld, value, cls, n in _answer_groups(ctx, main):
        d.classes[(fid, fld)][cls] += n
        if cls == CLASS_ANSWERED:
            d.values[(fid, fld)][value] += n
            d.by_branch[(branch, fid)].append((fld, value, n))
            if fld in index_fields:
                d.segments[main.key(bucket)][(branch, fid)].append((fld, value, n))
    for bucket, branch, fid, sheet_page, n, opens in _page_groups(ctx, main):
        d.pages[(fid, sheet_page or 1)] += n
        d.responses_form[fid] += opens
        d.responses_branch[branch] += opens
        d.segment_responses[main.key(bucket)][branch] += opens
    d.status.update(_status_counts(ctx, main))
    for w in (before, after):
        if w is None:
            continue
        for bucket, branch, fid, fld, value, n in _history_answers(ctx, w, index_fields):
            d.segments[w.key(bucket)][(branch, fid)].append((fld, value, n))
        for bucket, branch, n in _history_responses(ctx, w):
            d.segment_responses[w.key(bucket)][branch] += n
    return d


@dataclass(frozen=True)
class Overview:
    """A start page's figures over all time (the backlog does not wait for a month to end)."""

    printed: int  # sheets printed for the units
    counts: sheet_counts.Counts  # sheets received, answers and sheets waiting


def overview(session: Session, units: Iterable[str]) -> Overview:
    """The all-time figures of ``units`` (a unit with everything under it: ``UnitTree.below``)."""
    units = sorted(set(units))
    printed = session.scalar(select(func.count()).select_from(Sheet).where(Sheet.unit_code.in_(units))) or 0
    return Overview(printed, sheet_counts.counts(session, units))


def compute(
    session: Session,
    period: Period | str,
    unit_code: str | None,
    form_id: str | None = None,
    *,
    target: float = DEFAULT_TARGET,
    trend_months: int = TREND_MONTHS,
    as_of: date | str | None = None,
) -> TallyResult:
    """Everything a report or a results page shows for ``unit_code`` (and the units under it).

    ``unit_code`` None: the whole installation. ``as_of``: the last survey day counted (default: today,
    or the period's last day once it is over). Raises ``TallyError`` for an unknown unit or form, a bad
    period or an as-of day still to come."""
    period = Period.parse(period)
    as_of = as_of_day(period, as_of)
    cap = as_of + timedelta(days=1)  # nothing surveyed after the as-of day counts, in any figure
    end = period.span(as_of)[1]
    if not 0 < target <= 1:
        raise TallyError(f"mục tiêu chỉ số hài lòng phải trong khoảng (0, 100] %, không phải {target * 100:g} %")
    warnings: list[str] = []
    if form_id is not None:
        try:
            get_form(form_id)
        except UnknownForm as e:
            raise TallyError(str(e)) from e
    unit_info, counters = None, 6
    if unit_code is not None:
        unit = session.get(Unit, unit_code)
        if unit is None:
            raise TallyError(f"không có đơn vị mã {unit_code!r} (xem: omr units list)")
        parent = session.get(Unit, unit.parent_code) if unit.parent_code else None
        unit_info = UnitInfo(unit.code, unit.name, unit.kind, unit.parent_code, parent.name if parent else None)
        counters = unit.counters

    prev = period.previous()
    months = period.trend_months(trend_months) if trend_months else []
    main, before, after = _plan(period, end, cap, prev, months)
    ctx = _Ctx(session, unit_code, form_id)
    _no_jit(session)

    # index questions of every installed form (or the one named) for the previous period and the
    # trend, which pool every form, even one not used in this period
    history_forms = {form_id: get_form(form_id)} if form_id else dict(all_forms())
    d = _collect(ctx, main, before, after, _index_fields(history_forms.values()))
    pending_sheets = _pending_sheets(ctx, main)

    # the forms shown: the one named, else every form with pages in scope; counter questions get
    # "Quầy 1…n" for the unit's number of counters
    forms: dict[str, Form] = {}
    for fid in sorted({form_id} if form_id else {f for f, _ in d.pages if f}):
        if (f := _load_form(fid, warnings)) is not None:
            forms[fid] = f.resolved(Variant(counters=counters, personal=True))
        history_forms.pop(fid, None)
    history_forms.update(forms)

    form_tallies = []
    for fid, form in forms.items():
        by = _breakdown_fields(form)
        bd_rows = _breakdown_groups(ctx, main, form, by) if by else []
        prev_rows = d.index_rows(prev.start, prev.end).get(fid, [])
        form_tallies.append(
            _form_tally(form, d, d.responses_form.get(fid, 0), pending_sheets.get(fid, 0), prev_rows, bd_rows, target)
        )
    prev_rows_all = d.index_rows(prev.start, prev.end)
    prev_sat, prev_ans = _sum_pairs(_sat_counts(f, prev_rows_all.get(fid, [])) for fid, f in history_forms.items())
    all_sat = sum(ft.index.satisfied for ft in form_tallies)
    all_ans = sum(ft.index.answered for ft in form_tallies)

    # sheets: printed and returned, in the period and in the year so far, against the quota
    year_start = period.calendar_year().start
    sheets = _Sheets.collect(ctx, period, end)
    year_share, period_share = period.year_elapsed(as_of), period.elapsed(as_of)
    period_of_year = min(1.0, period.days / period.calendar_year().days)

    def account(branches: Iterable[str] | None) -> SheetAccount:
        bs = None if branches is None else list(branches)

        def total(values: dict[str, Any]) -> Any:
            return sum(values.values()) if bs is None else sum(values.get(b, 0) for b in bs)

        pr, ypr, rt = total(sheets.printed), total(sheets.year_printed), total(d.responses_branch)
        quota = total(sheets.quotas)
        yr = d.responses(year_start, end) if bs is None else sum(d.responses(year_start, end, b) for b in bs)
        yq, pq = round(quota), round(quota * period_of_year)
        return SheetAccount(
            printed=pr,
            returned=rt,
            year_printed=ypr,
            year_returned=yr,
            response_rate=yr / ypr if ypr else None,
            quota_applies=yq > 0,
            yearly_quota=yq,
            quota_progress=yr / yq if yq else None,
            expected_progress=year_share,
            period_quota=pq,
            period_progress=rt / pq if pq else None,
            period_expected=period_share,
        )

    # the units under the report's: every one expected to survey, and any other with sheets this year
    branches = {b for b, q in sheets.quotas.items() if q > 0} | set(sheets.year_printed) | set(d.responses_branch)
    branches |= {b for b, _ in d.by_branch}
    branches |= {b for day, per in d.segment_responses.items() if year_start <= day < end for b in per}
    units = _unit_tallies(session, unit_code, branches, history_forms, d, account, target, prev)

    trend = []
    for m in months:
        rows = d.index_rows(m.start, m.end)
        sat, ans = _sum_pairs(_sat_counts(f, rows.get(fid, [])) for fid, f in history_forms.items())
        trend.append(TrendPoint(m.code, m.short_label, d.responses(m.start, m.end), Index.of(sat, ans, target)))

    return TallyResult(
        period=PeriodInfo(
            period.code,
            period.kind,
            period.label,
            period.short_label,
            period.start,
            period.end,
            prev.code,
            as_of,
            complete=as_of >= period.last_day,
            elapsed=period_share,
            as_of_label=None if as_of >= period.last_day else f"số liệu tính đến ngày {as_of:%d/%m/%Y}",
        ),
        unit=unit_info,
        form_id=form_id,
        target=target,
        generated_at=datetime.now(UTC),
        responses=sum(d.responses_form.values()),
        pending_responses=sum(pending_sheets.values()),
        index=Index.of(all_sat, all_ans, target, Index.of(prev_sat, prev_ans, target)),
        forms=form_tallies,
        units=units,
        sheets=account(None),
        pages_by_status=dict(sorted(d.status.items())),
        trend=trend,
        comments=count_comments(session, period, unit_code, form_id, as_of=as_of),
        warnings=warnings,
    )


def _no_jit(session: Session) -> None:
    """PostgreSQL compiles a query whose estimated cost is high (the correlated subqueries make it
    so) and spent ~0.4 s compiling for a 40 ms query: off, for this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _sum_pairs(pairs: Iterable[tuple[int, int]]) -> tuple[int, int]:
    a = b = 0
    for x, y in pairs:
        a, b = a + x, b + y
    return a, b


def _form_tally(
    form: Form,
    d: _Data,
    responses: int,
    pending_responses: int,
    prev_rows: _Rows,
    breakdown_rows: list[tuple],
    target: float,
) -> FormTally:
    fid = form.id
    prev_per_field: dict[str, _Rows] = defaultdict(list)
    for row in prev_rows:
        prev_per_field[row[0]].append(row)
    questions = []
    for f in _choice_fields(form):
        values = d.values.get((fid, f.id), {})
        cls = d.classes.get((fid, f.id), {})
        answered, pending = cls.get(CLASS_ANSWERED, 0), cls.get(CLASS_PENDING, 0)
        on_page = d.pages.get((fid, f.page), 0)
        # pages with no row at all for the question (never read) count as blank, so the three
        # numbers always add up to the sheets that carry the question
        blank = max(on_page - answered - pending, cls.get(CLASS_BLANK, 0))
        counts: dict[str, int] = defaultdict(int)
        for v, n in values.items():
            for part in _split(f, v):
                counts[part] += n
        options = [
            OptionCount(
                o.value, o.label, counts.get(o.value, 0), counts.get(o.value, 0) / answered if answered else None
            )
            for o in _options_for(f, counts)
        ]
        index = None
        if f.is_index_question:
            sat = sum(n for v, n in values.items() if v in f.satisfied)
            ps, pa = _sat_counts(form, prev_per_field.get(f.id, []))
            index = Index.of(sat, answered, target, Index.of(ps, pa, target))
        questions.append(
            QuestionTally(f.id, f.label, f.kind, f.element, f.page, on_page, answered, blank, pending, options, index)
        )

    elements = []
    by_element: dict[str, list[QuestionTally]] = {}
    for q in questions:
        if q.index is not None:
            by_element.setdefault(q.element or form.title, []).append(q)
    for name, qs in by_element.items():
        sat = sum(q.index.satisfied for q in qs if q.index)
        ans = sum(q.index.answered for q in qs if q.index)
        ps, pa = _sat_counts(form, [r for q in qs for r in prev_per_field.get(q.field, [])])
        elements.append(ElementIndex(name, [q.field for q in qs], Index.of(sat, ans, target, Index.of(ps, pa, target))))
    sat = sum(e.index.satisfied for e in elements)
    ans = sum(e.index.answered for e in elements)
    ps, pa = _sat_counts(form, prev_rows)
    return FormTally(
        fid,
        form.version,
        form.full_title,
        responses,
        pending_responses,
        questions,
        elements,
        Index.of(sat, ans, target, Index.of(ps, pa, target)),
        _breakdowns(form, breakdown_rows, d, target),
    )


def _breakdowns(form: Form, rows: list[tuple[str, int]], d: _Data, target: float) -> list[Breakdown]:
    out = []
    parsed = []
    for key, n in rows:
        if key is None:
            continue
        *values, score = key.split("|")
        parsed.append((values, int(score) // SCORE, int(score) % SCORE, n))
    for i, bf in enumerate(_breakdown_fields(form)):
        sat: dict[str, int] = defaultdict(int)
        ans: dict[str, int] = defaultdict(int)
        for values, s, a, n in parsed:
            if not values[i]:
                continue
            for part in _split(bf, values[i]):
                sat[part] += s * n
                ans[part] += a * n
        responses: dict[str, int] = defaultdict(int)
        for v, n in d.values.get((form.id, bf.id), {}).items():
            for part in _split(bf, v):
                responses[part] += n
        rows_out = [
            BreakdownRow(o.value, o.label, responses.get(o.value, 0), Index.of(sat[o.value], ans[o.value], target))
            for o in _options_for(bf, set(responses) | set(ans))
            if responses.get(o.value, 0) or ans.get(o.value, 0)
        ]
        out.append(Breakdown(bf.id, bf.label, rows_out))
    return out


def _unit_tallies(
    session: Session,
    root: str | None,
    branches: set[str],
    forms: dict[str, Form],
    d: _Data,
    account: Callable[[Iterable[str] | None], SheetAccount],
    target: float,
    prev: Period,
) -> list[UnitTally]:
    if not branches:
        return []
    info = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(sorted(branches))))}

    def order(code: str) -> tuple:
        # the unit itself first, then by name with numbers in numeric order ("Phường 2" before "Phường 10")
        name = info[code].name if code in info else code
        return (code != root, [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", name)])

    out = []
    for code in sorted(branches, key=order):
        u = info.get(code)
        form_index = {}
        sat = ans = 0
        for fid, form in forms.items():
            s, a = _sat_counts(form, d.by_branch.get((code, fid), []))
            if a:
                form_index[fid] = Index.of(s, a, target)
            sat, ans = sat + s, ans + a
        before = d.index_rows(prev.start, prev.end, code)
        ps, pa = _sum_pairs(_sat_counts(f, before.get(fid, [])) for fid, f in forms.items())
        out.append(
            UnitTally(
                code,
                u.name if u else code,
                u.kind if u else "",
                code == root,
                d.responses_branch.get(code, 0),
                Index.of(sat, ans, target, Index.of(ps, pa, target)),
                form_index,
                account([code]),
            )
        )
    return out


def counted_pages(
    period: Period | str, unit_code: str | None, form_id: str | None = None, *, as_of: date | None = None
) -> Select:
    """The pages this tally counts, as a query (id, serial, unit_code, form_id, sheet_page, status,
    created_at, branch, survey_date): the exports read the raw answers through it, so they list exactly
    the sheets the tally counted (pass the result's ``period.as_of`` for a period not yet over)."""
    start, end = Period.parse(period).span(as_of)
    scope, p = scope_cte(unit_code), _pages
    return (
        select(
            p.c.id,
            p.c.serial,
            p.c.unit_code,
            p.c.form_id,
            p.c.sheet_page,
            p.c.status,
            p.c.created_at,
            scope.c.branch,
            p.c.survey_date,
        )
        .select_from(p.join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, start, end, form_id))
    )


# --------------------------------------------------------------------------- handwritten comments


@dataclass
class Comment:
    page_id: int
    serial: str | None
    unit_code: str | None
    form_id: str | None
    field: str
    label: str
    image_path: str  # relative to OMR_HOME
    scanned: date | None


def _comment_stmt(period: Period, unit_code: str | None, form_id: str | None, as_of: date | None):
    start, end = period.span(as_of)
    scope, p, t = scope_cte(unit_code), _pages, TextArea.__table__
    return (
        select(p.c.id, p.c.serial, p.c.unit_code, p.c.form_id, t.c.field, t.c.image_path, p.c.created_at)
        .select_from(t.join(p, t.c.page_id == p.c.id).join(scope, scope.c.code == p.c.unit_code))
        .where(*_counted(p, start, end, form_id), t.c.written.is_(True))
        .order_by(p.c.created_at, p.c.id, t.c.id)
    )


def _personal(form_id: str | None, field_id: str) -> bool | None:
    """True for name/phone/address areas (Decree 13/2023: never printed in a report); None if unknown."""
    try:
        return get_form(form_id or "").field(field_id).personal
    except (UnknownForm, KeyError):
        return None


def comments(
    session: Session,
    period: Period | str,
    unit_code: str | None,
    form_id: str | None = None,
    limit: int | None = None,
    *,
    as_of: date | None = None,
) -> list[Comment]:
    """The period's handwritten comments (images), oldest first, up to ``as_of`` (the result's
    ``period.as_of``) if given; personal-data areas are left out."""
    period = Period.parse(period)
    out: list[Comment] = []
    for pid, serial, unit, fid, fld, path, created in session.execute(_comment_stmt(period, unit_code, form_id, as_of)):
        if _personal(fid, fld) is not False:
            continue
        label = get_form(fid).field(fld).label
        out.append(Comment(pid, serial, unit, fid, fld, label, path, local_date(created)))
        if limit is not None and len(out) >= limit:
            break
    return out


def count_comments(
    session: Session,
    period: Period | str,
    unit_code: str | None,
    form_id: str | None = None,
    *,
    as_of: date | None = None,
) -> int:
    period = Period.parse(period)
    sq = _comment_stmt(period, unit_code, form_id, as_of).order_by(None).subquery()
    rows = session.execute(select(sq.c.form_id, sq.c.field, func.count()).group_by(sq.c.form_id, sq.c.field))
    return sum(n for fid, fld, n in rows if _personal(fid, fld) is False)
