"""Survey period of scan batches: the tally counts by survey month, not by scan date.

Fixed data (ward W1, form kien-hung-2020), each sheet one page answered q_result = "5":
  batch A: period 2026-11, scanned 20/11/2026          3 sheets  -> November
  batch B: period 2026-11, scanned 02/12/2026 (box)    4 sheets  -> November (counted on 30/11)
  batch C: period 2026-12, scanned 01/12/2026          2 sheets  -> December
  batch D: scanned 25/11/2026, period 2026-11, then moved to 2026-10 by staff: 5 sheets -> October
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from db import session as dbs
from db.models import Answer, AuditLog, Page, ScanBatch, Unit, local_date
from omr.services import ServiceError, survey_period
from omr.services.tally import compute
from omr.vocab import ACCEPTED, MACHINE, SCAN_DONE

FORM = "kien-hung-2020"
BATCHES = {  # name: (period, scanned at UTC, sheets)
    "A": ("2026-11", datetime(2026, 11, 20, 3, tzinfo=UTC), 3),
    "B": ("2026-11", datetime(2026, 12, 2, 3, tzinfo=UTC), 4),
    "C": ("2026-12", datetime(2026, 12, 1, 3, tzinfo=UTC), 2),
    "D": ("2026-11", datetime(2026, 11, 25, 3, tzinfo=UTC), 5),
}


@pytest.fixture
def batches(omr_home: Path) -> dict[str, int]:
    """The batches above, their pages given the survey day storing would give them."""
    ids = {}
    with dbs.transaction() as s:
        s.add(Unit(code="W1", name="Phường An Bình", kind="ward"))
        n = 0
        for name, (period, at, count) in BATCHES.items():
            batch = ScanBatch(created_at=at, label=name, period=period, status=SCAN_DONE, done_pages=count)
            s.add(batch)
            s.flush()
            ids[name] = batch.id
            for _ in range(count):
                n += 1
                serial = f"{name}{n:03d}"
                page = Page(
                    scan_batch_id=batch.id,
                    source=f"{name}.pdf",
                    source_page=n,
                    sha256=hashlib.sha256(serial.encode()).hexdigest(),
                    image_path=f"pages/{serial}.png",
                    status=ACCEPTED,
                    serial=serial,
                    sheet_page=1,
                    form_id=FORM,
                    form_version=1,
                    variant="c6p0",
                    unit_code="W1",
                    created_at=at,
                    survey_date=survey_period.survey_day(local_date(at), period),
                )
                s.add(page)
                s.flush()
                s.add(
                    Answer(
                        page_id=page.id,
                        field="q_result",
                        machine_value="5",
                        machine_state="marked",
                        confidence=0.99,
                        final_value="5",
                        final_state="marked",
                        decided_by=MACHINE,
                    )
                )
    return ids


def _responses(period: str) -> int:
    with dbs.session() as s:
        return compute(s, period, "W1", trend_months=0).responses


def test_survey_day_moves_the_scan_day_into_the_survey_month() -> None:
    assert survey_period.survey_day(date(2026, 12, 2), "2026-11") == date(2026, 11, 30)
    assert survey_period.survey_day(date(2026, 11, 20), "2026-11") == date(2026, 11, 20)
    assert survey_period.survey_day(date(2027, 1, 4), "2026-12") == date(2026, 12, 31)  # not next year's
    assert survey_period.survey_day(date(2026, 2, 27), "2026-03") == date(2026, 3, 1)
    assert survey_period.survey_day(date(2026, 2, 27), None) == date(2026, 2, 27)


def test_tally_counts_by_survey_month_not_scan_date(batches: dict[str, int]) -> None:
    assert _responses("2026-11") == 3 + 4 + 5  # A, B (scanned in December), D
    assert _responses("2026-12") == 2
    assert _responses("2026-10") == 0
    assert _responses("2026-Q4") == 14


def test_moving_a_batch_moves_its_sheets_and_is_audited(batches: dict[str, int]) -> None:
    with dbs.transaction() as s:
        moved = survey_period.set_period(s, batches["D"], "2026-10", "staff1")
    assert moved == {"batch": batches["D"], "old": "2026-11", "new": "2026-10", "pages": 5}
    assert (_responses("2026-10"), _responses("2026-11"), _responses("2026-Q4")) == (5, 7, 14)
    with dbs.session() as s:
        days = set(s.scalars(select(Page.survey_date).where(Page.scan_batch_id == batches["D"])))
        assert days == {date(2026, 10, 31)}
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "batch.period"))
        assert entry.user == "staff1" and entry.old == {"period": "2026-11"} and entry.new["period"] == "2026-10"
    # and back: the pages count on their own scan day again
    with dbs.transaction() as s:
        survey_period.set_period(s, batches["D"], "2026-11", "staff1")
    assert (_responses("2026-10"), _responses("2026-11")) == (0, 12)
    with dbs.session() as s:
        assert set(s.scalars(select(Page.survey_date).where(Page.scan_batch_id == batches["D"]))) == {
            date(2026, 11, 25)
        }


def test_bad_periods_are_refused_in_one_line(batches: dict[str, int]) -> None:
    on = date(2026, 12, 2)
    for bad in ("2026-13", "11/2026", "2026", "tháng 11"):
        with pytest.raises(ServiceError, match="^Kỳ khảo sát không hợp lệ") as e:
            survey_period.parse_month(bad, on)
        assert "\n" not in str(e.value)
    with pytest.raises(ServiceError, match="chưa tới"):
        survey_period.parse_month("2027-01", on)
    assert survey_period.parse_month("2026-3", on) == "2026-03"
    with dbs.transaction() as s, pytest.raises(ServiceError, match="Không có đợt quét"):
        survey_period.set_period(s, 999, "2026-10", "staff1")
    with dbs.transaction() as s:
        s.get(ScanBatch, batches["C"]).status = "running"
    with dbs.transaction() as s, pytest.raises(ServiceError, match="đang được đọc"):
        survey_period.set_period(s, batches["C"], "2026-11", "staff1")


def test_the_upload_suggests_last_month_in_the_first_days() -> None:
    assert survey_period.suggested_month(date(2026, 12, 2)) == "2026-11"
    assert survey_period.suggested_month(date(2027, 1, 10)) == "2026-12"
    assert survey_period.suggested_month(date(2026, 12, 11)) == "2026-12"


def test_omr_scan_period_stores_pages_in_that_month(printed, scan_tools, omr_home: Path, capsys) -> None:
    """A real stack through ``omr scan --period`` (last month): its pages count in last month, and
    stderr says which month was used; a bad period is one line, exit non-zero, nothing stored."""
    from omr.cli import main

    manifest, images = printed(count=2)
    stack = scan_tools.jpeg_pdf(images, omr_home.parent / "stack.pdf")
    last = survey_period.month_code(survey_period.previous_month(survey_period.local_today()))
    assert main(["scan", "--period", "2026-13", str(stack)]) != 0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Kỳ khảo sát không hợp lệ: '2026-13'" in err
    assert main(["scan", "--json", "--period", last, str(stack)]) == 0
    err = capsys.readouterr().err
    assert f"kỳ khảo sát {survey_period.month_label(last)}." in err
    with dbs.session() as s:
        batch = s.scalars(select(ScanBatch)).one()  # the refused scan recorded nothing
        assert batch.period == last
        days = set(s.scalars(select(Page.survey_date)))
        pages = compute(s, last, manifest[0]["unit"], trend_months=0).responses
    first = survey_period.previous_month(survey_period.local_today())
    assert len(days) == 1 and days.pop().replace(day=1) == first and pages == 2


def test_web_upload_month_field_and_correction(tmp_path: Path) -> None:
    """The upload page offers the months (last month pre-selected in the first days), the chosen month
    is the batch's, and staff move a batch to another month from its page (audited)."""
    import io

    from tests.support.web import Home, app_for_tests, csrf_from, fill_clear, login, make_users, print_sheets, save_pdf

    with Home(tmp_path / "home"):
        make_users({"staff": ("staff", "09552")})
        _, pages = print_sheets(tmp_path, 1, name="up.pdf", by="staff")
        fill_clear(pages[0])
        data = save_pdf(pages, tmp_path / "up-stack.pdf").read_bytes()
        c = app_for_tests().test_client()
        login(c, "staff")
        page = c.get("/upload/").get_data(as_text=True)
        suggested = survey_period.suggested_month()
        assert f'<option value="{suggested}" selected>' in page
        assert ('id="period-hint"' in page) == survey_period.is_early()
        last = survey_period.month_code(survey_period.previous_month(survey_period.local_today()))
        r = c.post(
            "/upload/",
            data={"csrf_token": csrf_from(page), "period": last, "files": [(io.BytesIO(data), "stack.pdf")]},
            content_type="multipart/form-data",
        )
        assert r.status_code == 302
        with dbs.session() as s:
            batch = s.scalars(select(ScanBatch)).one()
            assert batch.period == last
            assert {d.replace(day=1) for d in s.scalars(select(Page.survey_date))} == {
                survey_period.previous_month(survey_period.local_today())
            }
        before_last = survey_period.previous_month(survey_period.previous_month(survey_period.local_today()))
        older = survey_period.month_code(before_last)
        page = c.get(f"/upload/{batch.id}").get_data(as_text=True)
        assert survey_period.month_label(last) in page
        r = c.post(f"/upload/{batch.id}/period", data={"csrf_token": csrf_from(page), "period": older})
        assert r.status_code == 302
        assert survey_period.month_label(older) in c.get(f"/upload/{batch.id}").get_data(as_text=True)
        with dbs.session() as s:
            assert s.get(ScanBatch, batch.id).period == older
            assert s.scalar(select(AuditLog.user).where(AuditLog.action == "batch.period")) == "staff"
        # a month still to come is refused with one message, nothing changed
        r = c.post(f"/upload/{batch.id}/period", data={"csrf_token": csrf_from(page), "period": "2999-01"})
        assert "chưa tới" in c.get(r.headers["Location"]).get_data(as_text=True)
        with dbs.session() as s:
            assert s.get(ScanBatch, batch.id).period == older
