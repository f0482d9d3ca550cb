"""The register of issued reports: issued once, downloaded again byte for byte, flagged when a later
review decision changes a figure it carried (with which figure, old → new), in ``omr export`` too.

Data: the tallies' fixed data (test_tally.build_fixture) in a fresh data directory, where the answer
of S5 (ward W1, November 2026) to q_result still waits for a reviewer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from db import session as dbs
from db.models import Answer, AuditLog, IssuedReport, Page, ReviewItem
from omr.reports import issued as issued_reports
from omr.services import ServiceError, review
from omr.vocab import REVIEW_ANSWER, REVIEW_OPEN


@pytest.fixture
def data(omr_home: Path) -> Path:
    from test_tally import build_fixture

    omr_home.mkdir(parents=True, exist_ok=True)
    build_fixture(omr_home)
    return omr_home


def _issue(number: str = "12/BC-UBND", **kw) -> int:
    args = {"period": "2026-11", "unit_code": "W1", "number": number, "signer": "Nguyễn Văn An", "user": "staff1"}
    args.update(kw)
    with dbs.transaction() as s:
        return issued_reports.issue(s, **args).id


def _pending_item(serial: str = "S5", field: str = "q_result") -> int:
    """A review item for the waiting answer (the fixture writes answers, not the review queue)."""
    with dbs.transaction() as s:
        page_id, answer_id = s.execute(
            select(Page.id, Answer.id)
            .join(Answer, Answer.page_id == Page.id)
            .where(Page.serial == serial, Answer.field == field, Answer.final_state.is_(None))
        ).one()
        item = ReviewItem(page_id=page_id, answer_id=answer_id, kind=REVIEW_ANSWER, status=REVIEW_OPEN)
        s.add(item)
        s.flush()
        return item.id


def test_issued_report_downloads_byte_identical_and_records_its_figures(data: Path, tmp_path: Path) -> None:
    rid = _issue()
    with dbs.session() as s:
        r = issued_reports.get(s, rid)
        again = issued_reports.file_bytes(r)
        assert (r.number, r.year, r.signer, r.unit_code, r.period, r.form_id) == (
            "12/BC-UBND",
            r.issued_on.year,
            "Nguyễn Văn An",
            "W1",
            "2026-11",
            None,
        )
        assert r.as_of.isoformat() == "2026-11-30"  # the period is over: its last day
        assert hashlib.sha256(again).hexdigest() == r.sha256 and again[:5] == b"%PDF-"
        # every figure of the tally as issued: W1 with SP1, November (test_tally's hand count)
        assert r.figures["responses"] == 7 and r.figures["index"]["satisfied"] == 10
        assert r.figures["index"]["answered"] == 12 and r.figures["pending_responses"] == 1
        assert "generated_at" not in r.figures
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "report.issue"))
        assert entry is not None and entry.user == "staff1" and entry.new["number"] == "12/BC-UBND"
    # and through the command line, the same bytes
    from omr.cli import main

    out = tmp_path / "again.pdf"
    assert main(["reports", "download", str(rid), "--out", str(out)]) == 0
    assert out.read_bytes() == again
    with dbs.session() as s:
        assert issued_reports.check(s, issued_reports.get(s, rid)) == []  # nothing changed since


def test_a_later_review_decision_flags_the_report_with_the_difference(data: Path, capsys) -> None:
    rid = _issue()
    item = _pending_item()
    review.decide_answer("reviewer1", review.Scope(frozenset({"P99", "W1", "W2", "SP1"})), item, "5")
    with dbs.transaction() as s:
        report = issued_reports.get(s, rid)
        changes = {c.key: (c.old, c.new) for c in issued_reports.check(s, report)}
        # S5 now answered "Rất hài lòng": W1's index 10/12 -> 11/13, nothing waits any more
        assert changes["index/satisfied"] == (10, 11) and changes["index/answered"] == (12, 13)
        assert changes["index/value"] == (pytest.approx(10 / 12), pytest.approx(11 / 13))
        assert changes["pending_responses"] == (1, 0)
        assert changes["forms/kien-hung-2020/questions/q_result/options/5/count"] == (2, 3)  # S1, S6, now S5
        assert "responses" not in changes  # still seven sheets
        texts = [c.text for c in issued_reports.changes_of(report)]
        assert "Chỉ số hài lòng: 83,3 % → 84,6 %" in texts
        line = issued_reports.summary_line(report, issued_reports.changes_of(report))
        assert line.startswith("Báo cáo số 12/BC-UBND ngày") and "\n" not in line
    # ``omr export`` of that unit and period says so on stderr (and still writes the file)
    from omr.cli import main

    assert main(["export", "--period", "2026-11", "--unit", "W1", "--format", "csv", "--out", str(data / "x.csv")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "12/BC-UBND" in err[0] and "83,3 % → 84,6 %" in err[0]
    # another unit's export says nothing
    assert main(["export", "--period", "2026-11", "--unit", "W2", "--format", "csv", "--out", str(data / "y.csv")]) == 0
    assert capsys.readouterr().err == ""


def test_issuing_refuses_a_number_used_this_year_and_bad_input(data: Path) -> None:
    _issue()
    with pytest.raises(ServiceError, match="đã ban hành báo cáo số 12/BC-UBND"):
        _issue()
    with pytest.raises(ServiceError, match="Thiếu người ký"):
        _issue("13/BC-UBND", signer="  ")
    with pytest.raises(ServiceError, match="không ban hành được"):
        _issue("13/BC-UBND", fmt="csv")
    with pytest.raises(ServiceError, match="Không có đơn vị"):
        _issue("13/BC-UBND", unit_code="NOPE")
    with dbs.session() as s:
        assert s.scalar(select(IssuedReport.id).where(IssuedReport.number == "13/BC-UBND")) is None
    # the same number for another unit is its own document
    _issue(unit_code="W2")


def test_a_report_issued_mid_period_keeps_its_as_of_day(data: Path) -> None:
    """Issued with "số liệu tính đến ngày 10/11/2026": later sheets of November do not flag it."""
    rid = _issue(as_of="2026-11-10")
    with dbs.transaction() as s:
        r = issued_reports.get(s, rid)
        assert r.as_of.isoformat() == "2026-11-10" and r.figures["period"]["complete"] is False
        assert r.figures["period"]["as_of_label"] == "số liệu tính đến ngày 10/11/2026"
        assert r.figures["responses"] == 7  # every November sheet of W1 is from 1 or 10 November
        assert issued_reports.check(s, r) == []


def test_web_issue_download_and_warning_on_the_results_page(tmp_path: Path) -> None:
    """Staff issue a report on the web; it downloads identical; after a review decision the results
    page of that unit and period warns, and the register marks it changed."""
    from test_tally import build_fixture

    from tests.support.web import Home, app_for_tests, csrf_from, login, make_users

    with Home(tmp_path / "home") as home:
        build_fixture(home)
        make_users({"staff": ("staff", "P99")})
        c = app_for_tests().test_client()
        login(c, "staff")
        page = c.get("/issued/?unit=W1&period=2026-11").get_data(as_text=True)
        form = {"csrf_token": csrf_from(page), "unit": "W1", "period": "2026-11", "number": "7/BC-UBND"}
        r = c.post("/issued/", data={**form, "signer": "Trần Thị Bình", "fmt": "pdf"})
        assert r.status_code == 302
        with dbs.session() as s:
            report = s.scalars(select(IssuedReport)).one()
            rid, sha = report.id, report.sha256
        got = c.get(f"/issued/{rid}/download")
        assert got.status_code == 200 and hashlib.sha256(got.data).hexdigest() == sha
        assert "khớp" in c.get("/issued/").get_data(as_text=True)
        assert "issued-changed" not in c.get("/results/?unit=W1&period=2026-11").get_data(as_text=True)
        item = _pending_item()
        review.decide_answer("reviewer1", review.Scope(frozenset({"W1", "SP1"})), item, "5")
        results = c.get("/results/?unit=W1&period=2026-11").get_data(as_text=True)
        assert "issued-changed" in results and "7/BC-UBND" in results and "83,3 % → 84,6 %" in results
        register = c.get("/issued/").get_data(as_text=True)
        assert "đã thay đổi" in register and "Chỉ số hài lòng: 83,3 % → 84,6 %" in register


def test_the_issued_document_carries_its_number_signer_and_as_of_day(data: Path, tmp_path: Path) -> None:
    import subprocess

    rid = _issue("15/BC-UBND", signer="Trần Thị Bình", as_of="2026-11-10")
    with dbs.session() as s:
        pdf = tmp_path / "issued.pdf"
        pdf.write_bytes(issued_reports.file_bytes(issued_reports.get(s, rid)))
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split())
    assert "Số: 15/BC-UBND" in text and "Trần Thị Bình" in text
    assert "số liệu tính đến ngày 10/11/2026" in text.lower()
    # omr export takes the same as-of day
    from omr.cli import main

    out = tmp_path / "export.pdf"
    assert main(["export", "--period", "2026-11", "--unit", "W1", "--format", "pdf", "--out", str(out),
                 "--as-of", "2026-11-10"]) == 0  # fmt: skip
    text = " ".join(subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout.split())
    assert "số liệu tính đến ngày 10/11/2026" in text.lower()
