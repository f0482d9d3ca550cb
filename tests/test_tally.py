"""Tallies checked against numbers worked out by hand on a small fixed data set.

The data (``build_fixture``) is also used by ``test_exports.py``. Units: province P99 with ward W1
(service point SP1 under it) and commune W2 (yearly quota set to 300). Form kien-hung-2020; the
report period is November 2026 (Vietnam time). Every sheet below is ``serial: unit, q_area,
q_result, q_counter, q_staff``; "-" is a blank answer, "?" an answer still waiting for a reviewer.

November (counted):
  S1 W1 1   5 1 5        S2 W1 1,2 4 1 3        S3 W1 2 3* 2 4  (*reviewer changed 5 -> 3)
  S4 W1 -   - 2 5        S5 W1 1   ? 1 4        S6 W1 3 5  3 5  (31/10 18:00 UTC = 1/11 in Vietnam)
  S7 W2 1   2 1 4        S8 W2 2   5 2 5        S9 SP1 1 4 1 4
Not counted: a duplicate page of S1, S8 stored a second time as accepted with other answers, a
conflict page, an invalid page, S11 scanned 30/11 18:00 UTC (= 1/12 in Vietnam).
October (previous period): S12 W1 5/2, S13 W1 3/3 (q_result/q_staff).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from db import session as dbs
from db.models import Answer, Page, PrintBatch, Sheet, TextArea, Unit
from omr.services import tally
from omr.services.tally import Period, TallyError, compute
from omr.vocab import ACCEPTED, CONFLICT, DUPLICATE, INVALID, MACHINE, NEEDS_REVIEW

FORM = "kien-hung-2020"
NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


@dataclass
class Resp:
    serial: str
    unit: str
    area: str | None
    result: str | None
    counter: str | None
    staff: str | None
    at: datetime = NOV
    status: str = ACCEPTED
    machine_result: str | None = None  # differs from the final value: a reviewer changed it


def _font(size: int) -> ImageFont.ImageFont:
    from omr.sheet.fonts import FONT_DIR

    return ImageFont.truetype(str(FONT_DIR / "NotoSans-Regular.ttf"), size)


def _comment_image(home: Path, name: str, text: str) -> str:
    img = Image.new("L", (900, 160), 255)
    ImageDraw.Draw(img).text((20, 40), text, fill=20, font=_font(40))
    rel = f"pages/{name}.png"
    (home / "pages").mkdir(exist_ok=True)
    img.save(home / rel)
    return rel


RESPONSES = [
    Resp("S1", "W1", "1", "5", "1", "5"),
    Resp("S2", "W1", "1,2", "4", "1", "3"),
    Resp("S3", "W1", "2", "3", "2", "4", status=NEEDS_REVIEW, machine_result="5"),
    Resp("S4", "W1", "", "", "2", "5"),
    Resp("S5", "W1", "1", "?", "1", "4", status=NEEDS_REVIEW),
    Resp("S6", "W1", "3", "5", "3", "5", at=datetime(2026, 10, 31, 18, 0, tzinfo=UTC)),
    Resp("S7", "W2", "1", "2", "1", "4"),
    Resp("S8", "W2", "2", "5", "2", "5"),
    Resp("S9", "SP1", "1", "4", "1", "4"),
    # not counted
    Resp("S1", "W1", "1", "5", "1", "5", status=DUPLICATE),
    Resp("S8", "W2", "2", "1", "2", "1"),  # stored again later: only the first counted page counts
    Resp("S10", "W1", "1", "1", "1", "1", status=CONFLICT),
    Resp("S14", "W1", "1", "1", "1", "1", status=INVALID),
    Resp("S11", "W1", "1", "1", "1", "1", at=datetime(2026, 11, 30, 18, 0, tzinfo=UTC)),
    # October
    Resp("S12", "W1", "1", "5", "1", "2", at=datetime(2026, 10, 15, 3, 0, tzinfo=UTC)),
    Resp("S13", "W1", "2", "3", "2", "3", at=datetime(2026, 10, 20, 3, 0, tzinfo=UTC)),
]

COMMENTS = {
    # serial: (field, written, text)
    "S1": ("y_kien_khac", True, "Cán bộ nhiệt tình, chu đáo."),
    "S7": ("y_kien_chua_hai_long", True, "Phải chờ lâu, đề nghị thêm quầy."),
    "S2": ("y_kien_khac", False, ""),
    "S3": ("ho_ten", True, "Nguyễn Văn A"),  # personal data: never in a report
}


def _answer(page_id: int, field: str, final: str | None, machine: str | None = None, reviewer: bool = False) -> Answer:
    pending = final == "?"
    value = None if pending or final in ("", None) else final
    state = None if pending else ("blank" if value is None else "marked")
    mval = value if machine is None else machine
    return Answer(
        page_id=page_id,
        field=field,
        machine_value=None if pending else mval,
        machine_state="uncertain" if pending else ("blank" if mval is None else "marked"),
        confidence=0.5 if pending or reviewer else 0.99,
        final_value=value,
        final_state=state,
        decided_by=None if pending else ("reviewer1" if reviewer else MACHINE),
        decided_at=None if pending else NOV,
    )


def build_fixture(home: Path) -> None:
    """Units, print batches, sheets, pages, answers and comment images, through the models."""
    with dbs.transaction() as s:
        s.add_all(
            [
                Unit(code="P99", name="Thành phố Thử Nghiệm", kind="province"),
                Unit(code="W1", name="Phường An Bình", kind="ward", parent_code="P99"),
                Unit(code="W2", name="Xã Hòa Lạc", kind="commune", parent_code="P99", yearly_quota=300),
                Unit(code="SP1", name="Điểm phục vụ Chợ Mới", kind="service_point", parent_code="W1"),
            ]
        )
        s.flush()
        batches = {
            "W1": PrintBatch(unit_code="W1", count=50, created_at=datetime(2026, 11, 2, 2, tzinfo=UTC)),
            "W2old": PrintBatch(unit_code="W2", count=30, created_at=datetime(2026, 10, 1, 2, tzinfo=UTC)),
            "W2": PrintBatch(unit_code="W2", count=20, created_at=datetime(2026, 11, 10, 2, tzinfo=UTC)),
            "SP1": PrintBatch(unit_code="SP1", count=10, created_at=datetime(2026, 11, 3, 2, tzinfo=UTC)),
        }
        for b in batches.values():
            b.form_id, b.form_version, b.variant = FORM, 1, "c6p0"
            b.first_serial = b.last_serial = "S0"
            s.add(b)
        s.flush()
        seen: set[str] = set()
        for r in RESPONSES:
            if r.serial not in seen:
                seen.add(r.serial)
                batch = batches["W2" if r.unit == "W2" else r.unit]
                s.add(
                    Sheet(
                        serial=r.serial,
                        unit_code=r.unit,
                        form_id=FORM,
                        form_version=1,
                        variant="c6p0",
                        batch_id=batch.id,
                    )
                )
        s.flush()
        for i, r in enumerate(RESPONSES):
            page = Page(
                source="stack.pdf",
                source_page=i + 1,
                sha256=hashlib.sha256(f"{i}".encode()).hexdigest(),
                image_path=f"pages/{i}.png",
                status=r.status,
                serial=r.serial,
                sheet_page=1,
                form_id=FORM,
                form_version=1,
                variant="c6p0",
                unit_code=r.unit,
                created_at=r.at,
            )
            s.add(page)
            s.flush()
            s.add_all(
                [
                    _answer(page.id, "q_area", r.area),
                    _answer(page.id, "q_result", r.result, r.machine_result, reviewer=r.machine_result is not None),
                    _answer(page.id, "q_counter", r.counter),
                    _answer(page.id, "q_staff", r.staff),
                ]
            )
            if r.serial in COMMENTS and r.status in (ACCEPTED, NEEDS_REVIEW):
                fld, written, text = COMMENTS[r.serial]
                path = _comment_image(home, f"c{i}", text) if written else f"pages/c{i}.png"
                s.add(
                    TextArea(page_id=page.id, field=fld, written=written, ink=0.1 if written else 0.0, image_path=path)
                )
        _two_page_sheets(s, batches["W2old"].id)


# sipas-tthc, two pages, W2, June 2025 (outside every other figure): T1 both pages (every index
# answer 4), T2 page 1 only (all 2), T3 page 2 only (all 5; its first page was lost)
SIPAS = "sipas-tthc"
JUNE_2025 = datetime(2025, 6, 10, 3, tzinfo=UTC)
TWO_PAGE = {"T1": {1: "4", 2: "4"}, "T2": {1: "2"}, "T3": {2: "5"}}


def _two_page_sheets(s, batch_id: int) -> None:
    from omr.sheet.templates import get_form

    form = get_form(SIPAS)
    for serial, pages in TWO_PAGE.items():
        s.add(Sheet(serial=serial, unit_code="W2", form_id=SIPAS, form_version=1, variant="c6p0", batch_id=batch_id))
        for sheet_page, value in pages.items():
            page = Page(
                source="sipas.pdf",
                source_page=sheet_page,
                sha256=hashlib.sha256(f"{serial}-{sheet_page}".encode()).hexdigest(),
                image_path=f"pages/{serial}-{sheet_page}.png",
                status=ACCEPTED,
                serial=serial,
                sheet_page=sheet_page,
                form_id=SIPAS,
                form_version=1,
                variant="c6p0",
                unit_code="W2",
                created_at=JUNE_2025,
            )
            s.add(page)
            s.flush()
            for f in form.fields():
                if f.page == sheet_page and f.kind != "text":
                    s.add(_answer(page.id, f.id, value if f.is_index_question else f.options[0].value))


@pytest.fixture
def nov(tally_db: Path) -> tally.TallyResult:
    with dbs.session() as s:
        return compute(s, "2026-11", "P99")


def _q(result: tally.TallyResult, field: str) -> tally.QuestionTally:
    return next(q for q in result.form(FORM).questions if q.field == field)


def _opts(q: tally.QuestionTally) -> dict[str, int]:
    return {o.value: o.count for o in q.options if o.count}


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 12, 1), "tháng 11 năm 2026"),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "tháng 12 năm 2026"),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), "quý IV năm 2026"),
        ("2026-q1", date(2026, 1, 1), date(2026, 4, 1), "quý I năm 2026"),
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "năm 2026"),
        ("2026-01-15..2026-02-10", date(2026, 1, 15), date(2026, 2, 11), "từ ngày 15/01/2026 đến ngày 10/02/2026"),
        ("2026-11-05", date(2026, 11, 5), date(2026, 11, 6), "ngày 05/11/2026"),
    ],
)
def test_period_parse(text: str, start: date, end: date, label: str) -> None:
    p = Period.parse(text)
    assert (p.start, p.end, p.label) == (start, end, label)
    assert Period.parse(p.code) == p


def test_period_previous_and_trend() -> None:
    assert Period.parse("2026-01").previous().code == "2025-12"
    assert Period.parse("2026-Q1").previous().code == "2025-Q4"
    assert Period.parse("2026").previous().code == "2025"
    assert Period.parse("2026-01-11..2026-01-20").previous().code == "2026-01-01..2026-01-10"
    months = Period.parse("2026-Q4").trend_months()
    assert [m.code for m in months][:2] == ["2026-01", "2026-02"] and months[-1].code == "2026-12"
    start, end = Period.parse("2026-11").bounds()
    assert start == datetime(2026, 10, 31, 17, tzinfo=UTC) and end == datetime(2026, 11, 30, 17, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13", "26-11", "2026-Q5", "tháng 11", "2026-02-30", "2026-02-10..2026-01-01"])
def test_period_errors_are_one_line(text: str) -> None:
    with pytest.raises(TallyError) as e:
        Period.parse(text)
    assert "\n" not in str(e.value) and str(e.value).startswith("kỳ báo cáo không hợp lệ")


# --------------------------------------------------------------------------- counts


def test_responses_exclude_duplicates_conflicts_and_other_periods(nov: tally.TallyResult) -> None:
    assert nov.responses == 9
    assert nov.form(FORM).responses == 9
    assert nov.pending_responses == 1  # S5
    assert nov.pages_by_status == {ACCEPTED: 8, NEEDS_REVIEW: 2, DUPLICATE: 1, CONFLICT: 1, INVALID: 1}


def test_question_counts_blanks_pending_and_reviewer_change(nov: tally.TallyResult) -> None:
    q = _q(nov, "q_result")
    assert (q.responses, q.answered, q.blank, q.pending) == (9, 7, 1, 1)
    # S3 was read as 5 by the machine and changed to 3 by a reviewer: the 3 counts, not the 5
    assert _opts(q) == {"5": 3, "4": 2, "3": 1, "2": 1}
    shares = {o.value: o.share for o in q.options}
    assert shares["5"] == pytest.approx(3 / 7) and shares["1"] == 0
    assert [o.label for o in q.options] == [
        "Rất hài lòng",
        "Hài lòng",
        "Bình thường",
        "Không hài lòng",
        "Rất không hài lòng",
    ]
    staff = _q(nov, "q_staff")
    assert (staff.answered, staff.blank, staff.pending) == (9, 0, 0)
    assert _opts(staff) == {"5": 4, "4": 4, "3": 1}


def test_multi_choice_counts_each_marked_option(nov: tally.TallyResult) -> None:
    q = _q(nov, "q_area")
    assert (q.answered, q.blank, q.pending) == (8, 1, 0)
    assert _opts(q) == {"1": 5, "2": 3, "3": 1}
    assert next(o for o in q.options if o.value == "1").label == "Tài nguyên và Môi trường"
    counter = _q(nov, "q_counter")
    assert _opts(counter) == {"1": 5, "2": 3, "3": 1}
    assert [o.label for o in counter.options][:3] == ["Quầy 1", "Quầy 2", "Quầy 3"]
    assert len(counter.options) == 6  # the province's default six counters, zeros shown


# --------------------------------------------------------------------------- index


def test_index_per_question_element_form_and_previous_period(nov: tally.TallyResult) -> None:
    r, s = _q(nov, "q_result").index, _q(nov, "q_staff").index
    assert (r.satisfied, r.answered) == (5, 7) and r.value == pytest.approx(5 / 7)
    assert (s.satisfied, s.answered) == (8, 9) and s.value == pytest.approx(8 / 9)
    assert r.meets_target is False and s.meets_target is False
    assert r.previous == pytest.approx(1 / 2) and s.previous == 0.0  # October: S12, S13
    elements = {e.element: e.index for e in nov.form(FORM).elements}
    assert elements["Kết quả giải quyết TTHC"].value == pytest.approx(5 / 7)
    assert elements["Công chức giải quyết công việc"].value == pytest.approx(8 / 9)
    f = nov.form(FORM).index
    assert (f.satisfied, f.answered) == (13, 16)
    assert f.previous == pytest.approx(1 / 4) and f.change == pytest.approx(13 / 16 - 1 / 4)
    assert nov.index.value == pytest.approx(13 / 16) and nov.target == 0.9
    assert _q(nov, "q_area").index is None


def test_target_is_configurable(tally_db: Path) -> None:
    with dbs.session() as s:
        res = compute(s, "2026-11", "P99", target=0.8)
    assert res.index.meets_target is True and _q(res, "q_result").index.meets_target is False


def test_breakdowns_by_area_and_counter(nov: tally.TallyResult) -> None:
    bd = {
        b.field: {r.value: (r.responses, r.index.satisfied, r.index.answered) for r in b.rows}
        for b in nov.form(FORM).breakdowns
    }
    assert bd["q_area"] == {"1": (5, 7, 9), "2": (3, 4, 6), "3": (1, 2, 2)}
    assert bd["q_counter"] == {"1": (5, 7, 9), "2": (3, 4, 5), "3": (1, 2, 2)}


# --------------------------------------------------------------------------- roll-up


def test_province_rolls_up_wards_and_service_points(nov: tally.TallyResult) -> None:
    units = {u.code: u for u in nov.units}
    assert set(units) == {"W1", "W2"}  # SP1 is inside W1
    assert units["W1"].responses == 7 and units["W2"].responses == 2
    assert (units["W1"].index.satisfied, units["W1"].index.answered) == (10, 12)
    assert (units["W2"].index.satisfied, units["W2"].index.answered) == (3, 4)
    assert units["W1"].name == "Phường An Bình"
    assert units["W1"].index.previous == pytest.approx(1 / 4) and units["W2"].index.previous is None


def test_ward_includes_its_service_point(tally_db: Path) -> None:
    with dbs.session() as s:
        w1 = compute(s, "2026-11", "W1")
        sp = compute(s, "2026-11", "SP1")
        w2 = compute(s, "2026-11", "W2")
        everything = compute(s, "2026-11", None)
    assert w1.responses == 7 and sp.responses == 1 and w2.responses == 2
    units = {u.code: u for u in w1.units}
    assert units["W1"].own and units["W1"].responses == 6 and units["SP1"].responses == 1
    assert (w1.index.satisfied, w1.index.answered) == (10, 12)
    assert (sp.index.satisfied, sp.index.answered) == (2, 2)
    assert w1.unit and w1.unit.parent_name == "Thành phố Thử Nghiệm"
    # every province is listed (each is expected to survey in its communes); only P99 has sheets
    assert everything.responses == 9 and {u.code for u in everything.units if u.responses} == {"P99"}
    assert {u.code for u in everything.units} >= {"P99", "01"}


def test_form_filter_and_other_periods(tally_db: Path) -> None:
    with dbs.session() as s:
        assert compute(s, "2026-11", "P99", form_id="sipas-tthc").responses == 0
        oct_ = compute(s, "2026-10", "P99")
        q4 = compute(s, "2026-Q4", "P99")
        dec = compute(s, "2026-12", "W1")
    assert oct_.responses == 2 and q4.responses == 12 and dec.responses == 1  # S11 is in December
    assert (q4.index.satisfied, q4.index.answered) == (13 + 1 + 0 + 0, 16 + 4 + 2)  # October 1/4, S11 0/2


def test_two_page_sheets_count_once(tally_db: Path) -> None:
    with dbs.session() as s:
        res = compute(s, "2025-06", "W2")
    f = res.form(SIPAS)
    assert res.responses == 3 and f.responses == 3 and res.units[0].responses == 3
    tc1 = next(q for q in f.questions if q.field == "tc_1")
    kq1 = next(q for q in f.questions if q.field == "kq_1")
    assert (tc1.responses, tc1.answered, tc1.index.satisfied) == (2, 2, 1)
    assert (kq1.responses, kq1.answered, kq1.index.satisfied) == (2, 2, 2)
    assert len(f.elements) == 5
    assert (f.index.satisfied, f.index.answered) == (15 + 7 + 7, 15 + 15 + 7 + 7)


def test_unknown_unit_and_form_are_user_errors(tally_db: Path) -> None:
    with dbs.session() as s:
        with pytest.raises(TallyError, match="không có đơn vị"):
            compute(s, "2026-11", "NOPE")
        with pytest.raises(TallyError, match="không có mẫu phiếu"):
            compute(s, "2026-11", "P99", form_id="nope")


# --------------------------------------------------------------------------- sheets, trend, comments


def test_sheet_accounting_and_quota(nov: tally.TallyResult) -> None:
    sh = nov.sheets
    assert (sh.printed, sh.returned) == (80, 9)  # W2's October batch is not November's
    # the year so far: every batch of 2026 (W2's October one too) and S12, S13 of October
    assert (sh.year_printed, sh.year_returned) == (110, 11)
    assert sh.response_rate == pytest.approx(11 / 110)
    assert sh.yearly_quota == 420 + 300 + 0  # W1 ward, W2 its own setting, SP1 a service point without one
    assert sh.quota_applies and sh.quota_progress == pytest.approx(11 / 720)
    assert sh.expected_progress == pytest.approx(334 / 365)  # 1 January to 30 November
    assert sh.period_quota == round(720 * 30 / 365) == 59
    assert sh.period_progress == pytest.approx(9 / 59) and sh.period_expected == 1.0
    units = {u.code: u.sheets for u in nov.units}
    w1, w2 = units["W1"], units["W2"]
    assert (w1.printed, w1.year_printed, w1.yearly_quota, w1.year_returned) == (60, 60, 420, 9)
    assert w1.response_rate == pytest.approx(9 / 60)
    assert (w2.printed, w2.year_printed, w2.yearly_quota, w2.year_returned) == (20, 50, 300, 2)
    assert tally.quota_of("ward", None) == 420 and tally.quota_of("commune", None) == 420
    assert tally.quota_of("office", None) == 200
    assert tally.quota_of("province", None) == 0 and tally.quota_of("service_point", None) == 0
    assert tally.quota_of("service_point", 150) == 150


def test_trend_has_twelve_months_with_october_and_november(nov: tally.TallyResult) -> None:
    assert [t.period for t in nov.trend][0] == "2025-12" and nov.trend[-1].period == "2026-11"
    by = {t.period: t for t in nov.trend}
    assert by["2026-11"].index.value == pytest.approx(13 / 16) and by["2026-11"].responses == 9
    assert by["2026-10"].index.value == pytest.approx(1 / 4) and by["2026-10"].responses == 2
    assert by["2026-09"].index.value is None and by["2026-09"].responses == 0


def test_comments_leave_out_personal_data(tally_db: Path, nov: tally.TallyResult) -> None:
    assert nov.comments == 2
    with dbs.session() as s:
        got = tally.comments(s, "2026-11", "P99")
    assert [(c.serial, c.field) for c in got] == [("S1", "y_kien_khac"), ("S7", "y_kien_chua_hai_long")]
    assert all((tally_db / c.image_path).is_file() for c in got)


def test_as_dict_is_json(nov: tally.TallyResult) -> None:
    import json

    d = json.loads(json.dumps(nov.as_dict()))
    assert d["period"]["code"] == "2026-11" and d["period"]["start"] == "2026-11-01"
    assert d["forms"][0]["questions"][1]["index"]["satisfied"] == 5


@pytest.mark.postgres
def test_postgresql_gives_the_same_numbers(tally_db: Path, tmp_path: Path, _postgres_server: str) -> None:
    """The same data on a real PostgreSQL server: every figure equal to SQLite's (portable SQL)."""
    from servers import new_database

    periods = ("2026-11", "2026-Q4", "2026", "2025-06", "2026-10-25..2026-11-05")
    with dbs.session() as s:
        expected = [_comparable(compute(s, p, "P99")) for p in periods]
    try:
        os.environ["OMR_DATABASE_URL"] = new_database(_postgres_server)
        build_fixture(tmp_path)
        with dbs.session() as s:
            got = [_comparable(compute(s, p, "P99")) for p in periods]
            assert [(c.serial, c.field) for c in tally.comments(s, "2026-11", "P99")] == [
                ("S1", "y_kien_khac"),
                ("S7", "y_kien_chua_hai_long"),
            ]
        assert got == expected
    finally:
        os.environ.pop("OMR_DATABASE_URL", None)
        dbs.dispose()


def _comparable(result: tally.TallyResult) -> dict:
    d = result.as_dict()
    d.pop("generated_at")
    return d


# --------------------------------------------------------------------------- quotas (seed 002)
#
# Province PX: communes C1 (printed 300 kien-hung + 100 hn-y-te in 2026), C2 and C3 (never printed),
# office D1 (district one-stop office, printed 50 kien-hung), school SCH under C1 (no quota of its
# own, printed 40 hn-giao-duc-phu-huynh). Sheets counted (one page each): C1 kien-hung 60 in March,
# 12 on 5/11 and 18 on 20/11; D1 kien-hung 10 on 12/11; SCH 5 on 25/11.

QUOTA_PRINTS = [("C1", FORM, 300), ("C1", "hn-y-te", 100), ("D1", FORM, 50), ("SCH", "hn-giao-duc-phu-huynh", 40)]
QUOTA_SHEETS = [
    ("C1", FORM, date(2026, 3, 10), 60),
    ("C1", FORM, date(2026, 11, 5), 12),
    ("C1", FORM, date(2026, 11, 20), 18),
    ("D1", FORM, date(2026, 11, 12), 10),
    ("SCH", "hn-giao-duc-phu-huynh", date(2026, 11, 25), 5),
]


@pytest.fixture
def quota_db(omr_home: Path) -> Path:
    with dbs.transaction() as s:
        s.add(Unit(code="PX", name="Tỉnh Chỉ Tiêu", kind="province"))
        s.flush()
        s.add_all(
            [
                Unit(code="C1", name="Xã Một", kind="commune", parent_code="PX"),
                Unit(code="C2", name="Xã Hai", kind="commune", parent_code="PX"),
                Unit(code="C3", name="Xã Ba", kind="commune", parent_code="PX"),
                Unit(code="D1", name="Bộ phận một cửa huyện", kind="office", parent_code="PX"),
            ]
        )
        s.flush()
        s.add(Unit(code="SCH", name="Trường Tiểu học Một", kind="service_point", parent_code="C1"))
        s.flush()
        for unit, form, count in QUOTA_PRINTS:
            s.add(
                PrintBatch(
                    unit_code=unit,
                    form_id=form,
                    form_version=1,
                    variant="c6p0",
                    first_serial="Q",
                    last_serial="Q",
                    count=count,
                    created_at=datetime(2026, 1, 5, 2, tzinfo=UTC),
                )
            )
        n = 0
        for unit, form, day, count in QUOTA_SHEETS:
            for _ in range(count):
                n += 1
                s.add(
                    Page(
                        source="q.pdf",
                        source_page=n,
                        sha256=hashlib.sha256(f"q{n}".encode()).hexdigest(),
                        image_path=f"pages/q{n}.png",
                        status=ACCEPTED,
                        serial=f"Q{n:05d}",
                        sheet_page=1,
                        form_id=form,
                        form_version=1,
                        variant="c6p0",
                        unit_code=unit,
                        created_at=datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
                    )
                )
    return omr_home


def test_quotas_of_a_province_a_commune_and_an_office(quota_db: Path) -> None:
    with dbs.session() as s:
        px = compute(s, "2026-11", "PX", trend_months=0)
        c1 = compute(s, "2026-11", "C1", trend_months=0)
        d1 = compute(s, "2026-11", "D1", trend_months=0)
    # the province: three communes at 420 (two never printed), the office at 200, the school at 0
    sh = px.sheets
    assert sh.yearly_quota == 3 * 420 + 200 == 1460
    assert (sh.year_printed, sh.year_returned, sh.returned) == (490, 105, 45)
    assert sh.response_rate == pytest.approx(105 / 490) and sh.quota_progress == pytest.approx(105 / 1460)
    assert sh.period_quota == round(1460 * 30 / 365) == 120 and sh.period_progress == pytest.approx(45 / 120)
    units = {u.code: u.sheets for u in px.units}
    assert set(units) == {"C1", "C2", "C3", "D1"}  # those that never printed are listed, behind
    assert (units["C2"].yearly_quota, units["C2"].year_returned, units["C2"].quota_progress) == (420, 0, 0.0)
    assert units["C2"].response_rate is None  # nothing printed: no rate
    # the commune: the school under it adds its sheets, not its quota
    sh = c1.sheets
    assert (sh.yearly_quota, sh.year_printed, sh.year_returned, sh.returned) == (420, 440, 95, 35)
    assert sh.response_rate == pytest.approx(95 / 440) and sh.period_quota == round(420 * 30 / 365) == 35
    # the district office
    sh = d1.sheets
    assert (sh.yearly_quota, sh.year_printed, sh.year_returned) == (200, 50, 10)
    assert sh.response_rate == pytest.approx(0.2) and sh.quota_progress == pytest.approx(10 / 200)
    assert sh.period_quota == round(200 * 30 / 365) == 16


def test_quota_under_a_form_filter_is_that_forms_share(quota_db: Path) -> None:
    with dbs.session() as s:
        px = compute(s, "2026-11", "PX", FORM, trend_months=0)
        d1_health = compute(s, "2026-11", "D1", "hn-y-te", trend_months=0)
    # C1 printed 300 of its 400 sheets on this form: 3/4 of 420; D1 only this form: all of 200;
    # C2 and C3 printed nothing yet, so no share of theirs is this form's
    sh = px.sheets
    assert sh.yearly_quota == 315 + 200 and sh.quota_applies
    assert (sh.year_printed, sh.year_returned) == (350, 100)
    assert sh.quota_progress == pytest.approx(100 / 515)
    sh = d1_health.sheets
    assert not sh.quota_applies and sh.yearly_quota == 0
    assert sh.quota_progress is None and sh.period_progress is None


def test_a_period_not_yet_over_counts_to_its_as_of_day(quota_db: Path) -> None:
    with dbs.session() as s:
        mid = compute(s, "2026-11", "C1", as_of="2026-11-10", trend_months=0)
        with pytest.raises(TallyError, match="chưa tới"):
            compute(s, "2026-11", "C1", as_of=date.today().replace(year=date.today().year + 1))
    assert mid.period.as_of == date(2026, 11, 10) and not mid.period.complete
    assert mid.period.as_of_label == "số liệu tính đến ngày 10/11/2026"
    assert mid.period.elapsed == pytest.approx(10 / 30)
    assert mid.responses == 12  # 5 November only: not the 18 of the 20th, nor the school's of the 25th
    sh = mid.sheets
    assert sh.year_returned == 60 + 12
    assert sh.period_expected == pytest.approx(10 / 30)  # a third of the month's quota is the pace
    assert sh.expected_progress == pytest.approx(314 / 365)  # 1 January to 10 November
    assert sh.period_progress == pytest.approx(12 / 35)
