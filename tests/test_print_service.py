"""Print runs: unique serials across batches and concurrent callers, the batch recorded, the PDF drawn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select

from db.models import Counter, PrintBatch, Sheet
from db.session import session, transaction
from omr.services import NotFound, ServiceError
from omr.services.print_runs import print_sheets
from omr.services.units import add_unit

REPO = Path(__file__).resolve().parents[1]


def _pdf_pages(path: Path) -> int:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def test_two_batches_get_distinct_serials_and_are_recorded(omr_home, tmp_path):
    with session() as s:
        a = print_sheets(s, "kien-hung-2020", "09552", 3, tmp_path / "a.pdf", "lan.nguyen")
        b = print_sheets(s, "sipas-tthc", "09552", 2, tmp_path / "b.pdf", "lan.nguyen")
    assert [m["serial"] for m in a] == ["000001", "000002", "000003"]
    assert [(m["pdf_page"], m["serial"], m["sheet_page"]) for m in b] == [
        (1, "000004", 1),
        (2, "000004", 2),
        (3, "000005", 1),
        (4, "000005", 2),
    ]
    assert a[0] == {"pdf_page": 1, "form": "kien-hung-2020", "unit": "09552", "serial": "000001", "sheet_page": 1}
    assert _pdf_pages(tmp_path / "a.pdf") == 3 and _pdf_pages(tmp_path / "b.pdf") == 4
    with session() as s:
        batches = s.scalars(select(PrintBatch).order_by(PrintBatch.id)).all()
        assert [(x.form_id, x.first_serial, x.last_serial, x.count, x.created_by) for x in batches] == [
            ("kien-hung-2020", "000001", "000003", 3, "lan.nguyen"),
            ("sipas-tthc", "000004", "000005", 2, "lan.nguyen"),
        ]
        assert batches[0].unit_code == "09552" and batches[0].variant == "c6p0" and batches[0].created_at
        sheets = s.scalars(select(Sheet).order_by(Sheet.serial)).all()
        assert [x.serial for x in sheets] == ["000001", "000002", "000003", "000004", "000005"]
        assert {x.batch_id for x in sheets[:3]} == {batches[0].id}


def test_unit_settings_go_on_the_sheet(omr_home, tmp_path):
    with transaction() as s:
        add_unit(s, "TH-KH", "Trường Tiểu học Kiến Hưng", parent="09552", counters=3)
    with session() as s:
        print_sheets(s, "kien-hung-2020", "TH-KH", 1, tmp_path / "th.pdf")
        assert s.scalar(select(PrintBatch.variant)) == "c3p0"


@pytest.mark.parametrize(
    ("form", "unit", "count", "error"),
    [
        ("no-such-form", "09552", 2, NotFound),
        ("kien-hung-2020", "99999", 2, NotFound),
        ("kien-hung-2020", "09552", 0, ServiceError),
    ],
)
def test_bad_requests_use_no_serial(omr_home, tmp_path, form, unit, count, error):
    with session() as s, pytest.raises(error):
        print_sheets(s, form, unit, count, tmp_path / "x.pdf")
    with session() as s:
        assert s.get(Counter, "sheet_serial").value == 0
        assert s.scalar(select(func.count()).select_from(PrintBatch)) == 0


def test_concurrent_print_runs_never_share_a_serial(omr_home, tmp_path):
    code = (
        "import sys; from pathlib import Path; from db.session import session;"
        "from omr.services.print_runs import print_sheets;"
        "s = session(); print_sheets(s, 'kien-hung-2020', '09552', 15, Path(sys.argv[1]))"
    )
    with session():
        pass  # database and key made once, so the processes race on serials, not on set-up
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / f"{i}.pdf")], env=env, cwd=REPO, stderr=subprocess.PIPE
        )
        for i in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()
    with session() as s:
        serials = s.scalars(select(Sheet.serial)).all()
        assert len(serials) == len(set(serials)) == 60
        assert sorted(serials) == [f"{n:06d}" for n in range(1, 61)]
        assert s.scalar(select(func.count()).select_from(PrintBatch)) == 4
