"""Print runs: fresh serials, the batch recorded, the PDF drawn.

Serials come from one counter row bumped by a single ``UPDATE … SET value = value + n``: the first
statement of the transaction is a write, so SQLite gives it the write lock and PostgreSQL a row lock,
and two print runs started at the same moment get disjoint ranges. The sheets are committed before
the PDF is drawn, so a serial on paper is always one the database knows; a PDF that fails to write
leaves unused serials behind, which costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Counter, PrintBatch, Sheet, Unit
from omr.services import NotFound, ServiceError, signing_key
from omr.services.units import get_unit, variant_of
from omr.sheet.layout import LayoutError, layout
from omr.sheet.render import UnitHeading, render
from omr.sheet.templates import Form, UnknownForm, Variant, get_form

SERIAL_COUNTER = "sheet_serial"
SERIAL_DIGITS = 6
MAX_COUNT = 100_000  # one print run; more is surely a typo


def format_serial(n: int) -> str:
    return f"{n:0{SERIAL_DIGITS}d}"


def allocate_serials(session: Session, count: int) -> list[str]:
    """``count`` serials never handed out before. Runs inside the caller's transaction."""
    bumped = cast(  # an UPDATE's result is a CursorResult
        CursorResult,
        session.execute(update(Counter).where(Counter.name == SERIAL_COUNTER).values(value=Counter.value + count)),
    ).rowcount
    if not bumped:
        # first print run ever: create the row; a concurrent creator makes one of us fail on the
        # primary key, and that caller retries the whole transaction (see print_sheets)
        session.execute(insert(Counter).values(name=SERIAL_COUNTER, value=count))
    last = session.scalar(select(Counter.value).where(Counter.name == SERIAL_COUNTER))
    assert last is not None
    return [format_serial(n) for n in range(last - count + 1, last + 1)]


def unit_heading(session: Session, unit: Unit) -> UnitHeading:
    parent = session.get(Unit, unit.parent_code) if unit.parent_code else None
    return UnitHeading(unit.name, parent.name if parent else "")


def _check(session: Session, form_id: str, unit_code: str, count: int) -> tuple[Form, Unit, Variant]:
    if not 1 <= count <= MAX_COUNT:
        raise ServiceError(f"số phiếu phải từ 1 đến {MAX_COUNT}")
    try:
        form = get_form(form_id)
    except UnknownForm as e:
        raise NotFound(str(e)) from None
    unit = get_unit(session, unit_code)
    variant = variant_of(unit)
    try:
        layout(form, variant)  # a unit whose settings do not fit the form fails here, before any serial is used
    except LayoutError as e:
        raise ServiceError(f"mẫu {form.id} không in được với cấu hình của đơn vị {unit.code}: {e}") from None
    return form, unit, variant


def record_batch(session: Session, form_id: str, unit_code: str, count: int, created_by: str | None) -> PrintBatch:
    """Validate, then allocate serials and record batch and sheets in one committed transaction.

    The reads that validate run in their own transaction, ended before the counter is bumped: on
    SQLite a transaction that read first cannot wait for the write lock, it fails at once if another
    writer got in between.
    """
    form, unit, variant = _check(session, form_id, unit_code, count)
    unit_code = unit.code
    session.rollback()
    for attempt in range(5):
        try:
            serials = allocate_serials(session, count)
            batch = PrintBatch(
                unit_code=unit_code,
                form_id=form.id,
                form_version=form.version,
                variant=variant.code(),
                first_serial=serials[0],
                last_serial=serials[-1],
                count=count,
                created_by=created_by,
            )
            session.add(batch)
            session.flush()
            session.execute(
                insert(Sheet),
                [
                    {
                        "serial": s,
                        "unit_code": unit_code,
                        "form_id": form.id,
                        "form_version": form.version,
                        "variant": batch.variant,
                        "batch_id": batch.id,
                    }
                    for s in serials
                ],
            )
            session.commit()
            return batch
        except IntegrityError:
            # only the very first print runs can race to create the counter row; try again
            session.rollback()
            if attempt == 4:
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def batch_serials(session: Session, batch: PrintBatch) -> list[str]:
    return list(session.scalars(select(Sheet.serial).where(Sheet.batch_id == batch.id).order_by(Sheet.serial)))


def render_batch(session: Session, batch: PrintBatch, out: Path | BinaryIO, key: bytes | None = None) -> list[dict]:
    """Draw a recorded batch (again, e.g. a lost PDF); returns the contract's per-page manifest."""
    form = get_form(batch.form_id, batch.form_version)
    unit = get_unit(session, batch.unit_code)
    fl = layout(form, Variant.parse(batch.variant))
    serials = batch_serials(session, batch)
    render(out, fl, unit.code, serials, key or signing_key.secret_key(), unit_heading(session, unit))
    manifest = []
    n = 0
    for serial in serials:
        for page in range(1, form.pages + 1):
            n += 1
            manifest.append({"pdf_page": n, "form": form.id, "unit": unit.code, "serial": serial, "sheet_page": page})
    return manifest


def print_sheets(
    session: Session,
    form_id: str,
    unit_code: str,
    count: int,
    out_path: Path | BinaryIO,
    created_by: str | None = None,
) -> list[dict]:
    """Issue ``count`` sheets of a form for a unit and write them to a PDF.

    Commits the session (the batch is recorded before the PDF exists; any transaction the session had
    open is rolled back first). Returns one dict per PDF page:
    ``{"pdf_page", "form", "unit", "serial", "sheet_page"}`` (CONTRACT.md ``omr print --json``).
    """
    key = signing_key.secret_key()
    if isinstance(out_path, Path) and out_path.parent and not out_path.parent.is_dir():
        raise ServiceError(f"không có thư mục {out_path.parent} để ghi tệp PDF")
    batch = record_batch(session, form_id, unit_code, count, created_by)
    return render_batch(session, batch, out_path, key)
