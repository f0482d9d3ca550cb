"""A review queue of any length made of real scans: a few sheets are printed, marked (double marks,
pale strokes beside a mark, several areas), scanned by the real pipeline, then their pages are copied (image file and
rows) so the queue holds as many distinct items as a test or the benchmark needs, each with its own
image (no crop comes from the server's cache by accident)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlalchemy import select

from tests.support.web import cross, fill_clear, pale_stroke, print_sheets, save_pdf, scan

# what each printed sheet carries, by field: a double mark (no machine guess), a pale stroke beside a
# mark (a guess), ten-option areas with a pale stroke in a second area (a multi-choice guess)
KINDS = ("multiple", "pale", "areas")


def scan_models(tmp: Path, by: str = "admin") -> list[dict]:
    """Three sheets, one per kind, scanned; their result lines."""
    _, pages = print_sheets(tmp, 3, by=by, name="models.pdf")
    fill_clear(pages[0], result="4")
    cross(pages[0], "q_result", "2")  # q_result: two marks
    fill_clear(pages[1], result="5", staff="4")
    pale_stroke(pages[1], "q_staff", "2")  # q_staff: a pale stroke beside a mark
    fill_clear(pages[2], result="5", areas=("3",))
    pale_stroke(pages[2], "q_area", "0")  # q_area (ten options): the tenth, "Khác", a pale stroke
    return scan([save_pdf(pages, tmp / "models-stack.pdf")], by=by)


def clone_queue(count: int, kinds: tuple[str, ...] = KINDS) -> list[int]:
    """``count`` open answer items made by copying the model pages round-robin; their ids in queue order."""
    from db.models import Answer, Page, ReviewItem
    from db.session import transaction
    from omr import config

    home = config.home()
    wanted = {"multiple": "q_result", "pale": "q_staff", "areas": "q_area"}
    with transaction() as s:
        models = []
        for kind in kinds:
            ans = s.scalar(select(Answer).where(Answer.field == wanted[kind], Answer.final_state.is_(None)))
            assert ans is not None, f"no model page for {kind}"
            models.append((s.get(Page, ans.page_id), ans))
        ids = []
        for n in range(count):
            page, ans = models[n % len(models)]
            sha = uuid.uuid4().hex + uuid.uuid4().hex
            src = home / page.image_path
            rel = str(Path(page.image_path).parent / f"{sha}{src.suffix}")
            shutil.copyfile(src, home / rel)
            copy = Page(
                **{c: getattr(page, c) for c in ("source", "status", "form_id", "form_version", "variant")},
                **{c: getattr(page, c) for c in ("unit_code", "transform", "rotation", "measurements", "sheet_page")},
                source_page=1000 + n,
                sha256=sha,
                image_path=rel,
                serial=f"9{n:05d}",
                scan_batch_id=page.scan_batch_id,
            )
            s.add(copy)
            s.flush()
            a = Answer(
                page_id=copy.id,
                field=ans.field,
                machine_value=ans.machine_value,
                machine_state=ans.machine_state,
                confidence=ans.confidence,
                reason=ans.reason,
            )
            s.add(a)
            s.flush()
            item = ReviewItem(page_id=copy.id, answer_id=a.id, kind="answer", status="open")
            s.add(item)
            s.flush()
            ids.append(item.id)
    return ids


def close_queue() -> None:
    """Every open answer item done (by nobody): a test starts from the queue it builds itself."""
    from sqlalchemy import update

    from db.models import ReviewItem
    from db.session import transaction

    with transaction() as s:
        s.execute(
            update(ReviewItem)
            .where(ReviewItem.kind == "answer", ReviewItem.status == "open")
            .values(status="done", assigned_to=None, assigned_at=None)
        )
