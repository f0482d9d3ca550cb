"""``omr reread``: read the stored pages again with the current reader (omr.services.reread)."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from omr.services import reread as rr
from omr.vocab import ANSWER_STATE, MARKED

# what happened to an answer, in words that fit both a page's line and the summary ("3 được máy nhận")
EFFECT_WORDS = {
    rr.ACCEPTED_NOW: "được máy nhận",
    rr.TO_REVIEW: "chuyển sang cần duyệt",
    rr.CHANGED: "đổi giá trị",
    rr.STILL_REVIEW: "vẫn chờ duyệt, máy đọc khác",
    rr.REVIEWER_KEPT: "giữ quyết định của người duyệt",
    rr.NOT_COUNTED: "ở trang không được tính",
}

HELP = """\
Đọc lại ảnh các trang đã lưu bằng trình đọc hiện tại và lưu những gì thay đổi: câu trả lời được máy
nhận, chuyển sang cần duyệt hay đổi giá trị; trang được nhận dạng hay đổi trạng thái (xung đột thành
trùng…). Không bao giờ đổi câu trả lời người duyệt đã quyết định: kết quả đọc của máy và quyết định
của người nằm cạnh nhau, chỉ phần của máy được cập nhật. Mỗi câu trả lời ghi phiên bản trình đọc đã
quyết định nó.

--json: mỗi trang thay đổi một dòng JSON, theo thứ tự lưu, rồi một dòng tổng kết cuối cùng:
  {"source": "stack.pdf", "page": 3, "page_id": 17, "serial": "000123", "sheet_page": 1,
   "old_status": "needs_review", "status": "accepted", "reader_version": "2",
   "answers": {"q_result": {"old": {"value": null, "state": "uncertain"},
                            "new": {"value": "5", "state": "marked", "confidence": 0.97},
                            "effect": "accepted"}},
   "texts": {"y_kien_khac": {"old": "blank", "new": "written"}}}
  - answers: chỉ các câu máy đọc khác đi hoặc có câu trả lời cuối đổi; "old" là null khi trang
    trước đó chưa có câu trả lời (trang vừa được nhận dạng).
  - effect: accepted (đang chờ người duyệt, nay máy nhận), to_review (máy đã nhận, nay cần người
    duyệt), changed (câu máy nhận đổi giá trị), still_review (vẫn chờ duyệt), reviewer_kept (người
    duyệt đã quyết định: giữ nguyên), not_counted (trang không được tính: trùng, xung đột).
  - new_page_id: trang vừa được nhận dạng được lưu lại với mã mới (không có khi --dry-run).
  - trang không đọc lại được (ảnh mất, trình đọc không thấy dấu định vị): dòng có "error", trang
    giữ nguyên.
  Dòng cuối: {"summary": {"reader_version": "2", "dry_run": false, "from_measurements": false,
   "pages": 120, "changed_pages": 7, "identified": 1, "errors": 0, "kept_by_person": 0,
   "answers": {"accepted": 5, "to_review": 3, "changed": 2, "still_review": 0,
               "reviewer_kept": 1, "not_counted": 0},
   "statuses": {"conflict>duplicate": 1, "unidentified>accepted": 1}}}

Mã thoát: 0 khi xong; 1 nếu có trang không đọc lại được; 2 khi tham số sai (đơn vị, ngày).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "reread",
        help="đọc lại các trang đã lưu bằng trình đọc hiện tại",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--unit", metavar="CODE", help="chỉ các trang của đơn vị này và các đơn vị trực thuộc")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="chỉ các trang quét từ ngày này trở đi")
    p.add_argument("--dry-run", action="store_true", help="chỉ cho biết sẽ thay đổi gì, không ghi gì")
    p.add_argument("--json", action="store_true", help="một dòng JSON cho mỗi trang thay đổi, rồi dòng tổng kết")
    p.add_argument(
        "--from-measurements",
        action="store_true",
        help="quyết định lại từ số đo đã lưu của từng ô, không đọc lại ảnh (nhanh hơn; không áp dụng thay đổi "
        "về định vị, đo mực hay nhận dạng)",
    )
    p.add_argument("--workers", type=int, help="số tiến trình đọc (mặc định: số nhân CPU)")
    p.add_argument("--by", help="người thực hiện (ghi nhật ký)")
    p.set_defaults(func=_reread)


def _day(text: str) -> date:
    from omr.cli.common import UserError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"ngày không hợp lệ: {text!r} (dạng YYYY-MM-DD, ví dụ 2026-11-01)") from None


def _reread(args) -> int:
    from omr.cli.common import plain_write, print_json, tqdm_write
    from omr.services.units import get_unit

    if args.unit:
        from db.session import session

        with session() as s:
            get_unit(s, args.unit)  # an unknown unit is the user's mistake: one line, exit 2
    tasks = rr.stored_pages(args.unit, _day(args.since) if args.since else None, args.from_measurements)
    progress = not args.json or sys.stderr.isatty()
    bar = _bar(len(tasks), progress)
    write = tqdm_write if progress else plain_write
    summary = rr.Summary()
    try:
        for o in rr.reread(
            tasks=tasks,
            dry_run=args.dry_run,
            from_measurements=args.from_measurements,
            workers=args.workers,
            by=args.by,
            summary=summary,
            progress=bar.update if bar else None,
        ):
            if o.error:
                write(f"lỗi: {o.source} trang {o.page} (#{o.page_id}): {o.error}", sys.stderr)
            if args.json and (o.changed or o.error):
                print_json(o.json(summary.reader_version))
            elif not args.json and o.changed:
                write(_line(o))
    finally:
        if bar:
            bar.close()
    if args.json:
        print_json(summary.json())
    else:
        print(_summary(summary))
    return 1 if summary.errors else 0


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="trang", desc="Đọc lại", file=sys.stderr, dynamic_ncols=True, leave=True)


def _value(v: tuple[str | None, str] | None) -> str:
    if v is None:
        return "chưa có"
    value, state = v
    if state == MARKED:
        return value or "—"
    word = ANSWER_STATE.get(state, state).lower()
    return f"{word} ({value})" if value else word


def _line(o: rr.Outcome) -> str:
    from omr.vocab import PAGE_STATUS as STATUS_LABELS

    ident = f" (phiếu {o.serial}, trang {o.sheet_page})" if o.serial else ""
    parts = []
    if o.status != o.old_status:
        parts.append(f"{STATUS_LABELS.get(o.old_status, o.old_status)} → {STATUS_LABELS.get(o.status, o.status)}")
    parts += [f"{a.field}: {_value(a.old)} → {_value(a.new)} ({EFFECT_WORDS[a.effect]})" for a in o.answers]
    parts += [f"{f}: {'có chữ' if n else 'trống'}" for f, (_, n) in o.texts.items()]
    return f"{o.source} trang {o.page}{ident}: " + "; ".join(parts)


def _summary(s: rr.Summary) -> str:
    from omr.vocab import PAGE_STATUS as STATUS_LABELS

    how = "quyết định lại từ số đo đã lưu" if s.from_measurements else "đọc lại"
    head = f"Đã {how} {s.pages} trang bằng trình đọc phiên bản {s.reader_version}"
    if s.dry_run:
        head += " (chạy thử: chưa ghi gì)"
    answers = ", ".join(f"{s.effects[e]} {EFFECT_WORDS[e]}" for e in rr.EFFECTS if s.effects[e])
    statuses = ", ".join(
        f"{n} {STATUS_LABELS.get(a, a)} → {STATUS_LABELS.get(b, b)}" for (a, b), n in sorted(s.statuses.items())
    )
    lines = [f"{head}: {s.changed} trang thay đổi."]
    lines.append(f"Câu trả lời: {answers or 'không câu nào thay đổi'}.")
    lines.append(
        f"Trang: {statuses or 'không trang nào đổi trạng thái'}"
        + (f" ({s.identified} trang mới nhận dạng được)." if s.identified else ".")
    )
    if s.kept:
        lines.append(f"Bỏ qua {s.kept} trang người duyệt đã xác nhận không phải phiếu.")
    if s.errors:
        lines.append(f"{s.errors} trang không đọc lại được (giữ nguyên, xem các dòng lỗi ở trên).")
    return "\n".join(lines)
