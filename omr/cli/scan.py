"""``omr scan``: read scanned stacks into the database, one line per page (CONTRACT.md), or watch a folder."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from omr.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UserError,
    plain_write,
    print_json,
    tqdm_write,
)
from omr.vocab import sentence


def _scan(args) -> int:
    from omr import config, queue
    from omr.services import ingest, survey_period, watched_folder
    from omr.services.sheet_counts import from_scan_lines
    from omr.vocab import PAGE_STATUS as STATUS_LABELS  # the words the web and the exports use

    if not args.paths and not args.watch:
        raise UserError("cần ít nhất một tệp/thư mục để quét, hoặc --watch THƯ_MỤC")
    if args.period and args.watch:
        raise UserError("--period không dùng với --watch: mỗi tệp thuộc tháng quét (sửa sau: omr batches period)")
    period = survey_period.parse_month(args.period) if args.period else survey_period.current_month()
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise UserError(f"không có tệp hay thư mục {p}")
    if args.watch and not Path(args.watch).is_dir():
        raise UserError(f"không có thư mục {args.watch} để theo dõi")
    progress = not args.json or sys.stderr.isatty()
    counts: Counter[str] = Counter()
    lines: list[dict] = []  # for the summary's sheet counts (omr.services.sheet_counts)
    write = tqdm_write if progress else plain_write  # tqdm's write keeps the bar below the text
    stop = threading.Event()
    out = _Output(on_gone=stop.set if args.watch else None)

    def emit(line: dict) -> None:
        counts[line["status"]] += 1
        if not args.watch:  # a watcher runs for months: no summary, nothing kept
            lines.append({k: line.get(k) for k in ("status", "serial", "answers")})
        if line["status"] == "error":
            out.err(lambda: write(f"Lỗi: {line['source']} trang {line['page']}: {sentence(line['error'])}", sys.stderr))
        if args.json:
            out.put(lambda: print_json(line))
        elif line["status"] != "error":
            label = STATUS_LABELS.get(line["status"], line["status"])
            ident = f" (phiếu {line['serial']}, trang {line['sheet_page']})" if line["serial"] else ""
            out.put(lambda: write(f"{line['source']} trang {line['page']}: {label}{ident}"))

    opts = {"workers": args.workers, "progress": progress, "created_by": args.by}
    try:
        if paths:
            from omr.detect.sources import display_name  # a file name that is not UTF-8, escaped

            label = ", ".join(display_name(p.name) for p in paths)[:300]
            batch_id = ingest.start_batch(label, args.by, 0, period)
            # in this process, or through the workers' queue when OMR_BROKER_URL is set
            for line in queue.scan(paths, batch_id=batch_id, **opts):
                emit(line)
        if args.watch and not stop.is_set():
            _stop_on_signals()
            print(f"Đang theo dõi {args.watch} (Ctrl-C để dừng)…", file=sys.stderr, flush=True)
            stable = args.stable if args.stable is not None else config.watch_stable_seconds()
            watching = watched_folder.watch(
                Path(args.watch),
                scan=queue.scan,  # through the workers' queue when OMR_BROKER_URL is set
                interval=args.interval,
                stable=stable,
                stop=stop,
                notify=lambda m: out.err(lambda: write(m, sys.stderr)),
                **opts,
            )
            for line in watching:
                emit(line)
    except KeyboardInterrupt:
        print("Đã dừng. Các trang đã lưu vẫn giữ nguyên; quét lại sẽ tiếp tục phần còn lại.", file=sys.stderr)
        return EXIT_OK if args.watch else 130
    if not args.json:
        summary = ", ".join(f"{STATUS_LABELS.get(k, k)}: {v}" for k, v in sorted(counts.items()))
        out.put(
            lambda: print(f"Tổng cộng {sum(counts.values())} trang — {summary or 'không có trang nào'}", flush=True)
        )
        out.put(lambda: print(from_scan_lines(lines).words().capitalize(), flush=True))
    if out.gone_after is not None:
        # every page was read and stored; only the lines could not all be given to the reader
        out.err(
            lambda: print(
                f"omr scan: Lỗi: đầu ra bị đóng sau {out.gone_after} dòng (ví dụ bởi | head); đã đọc hết "
                f"{sum(counts.values())} trang và lưu mọi trang đọc được, các dòng còn lại không được in",
                file=sys.stderr,
                flush=True,
            )
        )
        return EXIT_FAILED
    if counts["error"]:
        return EXIT_FAILED  # the error lines are all stderr says: one line per unreadable page
    if paths:
        out.err(lambda: print(_period_note(batch_id, period, explicit=bool(args.period)), file=sys.stderr))
    return EXIT_OK


def _period_note(batch_id: int, period: str, explicit: bool) -> str:
    """Which survey month the stack counted in; in the first days of a month, when a stack is most
    likely last month's box, how to move it there."""
    from omr.services import survey_period as sp

    note = f"Đợt quét #{batch_id}: phiếu tính vào kỳ khảo sát {sp.month_label(period)}"
    if explicit:
        return note + "."
    note += " (tháng quét; chọn tháng khác bằng --period YYYY-MM)."
    if sp.is_early():
        last = sp.month_code(sp.previous_month(sp.local_today()))
        note += f" Nếu đây là phiếu của {sp.month_label(last)}: omr batches period {batch_id} {last}"
    return note


class _Output:
    """Standard output of a scan, whose reader may go away (``omr scan --json stack.pdf | head -1``). Then
    the scan goes on, storing every page, and only its output stops: the caller says so at the end and
    exits non-zero, never a silent success. ``on_gone``: called once when that happens (a watcher stops)."""

    def __init__(self, on_gone: Callable[[], object] | None = None):
        self.on_gone = on_gone
        self.written = 0
        self.gone_after: int | None = None  # lines written before the reader went away

    def put(self, write: Callable[[], object]) -> None:
        if self.gone_after is not None:
            return
        try:
            write()
        except BrokenPipeError:
            self.gone_after = self.written
            _to_devnull(sys.stdout)  # what is still buffered, and Python's own flush at exit, go nowhere
            if self.on_gone is not None:
                self.on_gone()
            return
        self.written += 1

    @staticmethod
    def err(write: Callable[[], object]) -> None:
        """A line on stderr, which may have gone with stdout (``2>&1 | head``): then there is no one to tell."""
        try:
            write()
        except BrokenPipeError:
            _to_devnull(sys.stderr)


def _to_devnull(stream) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (systemd stopping the service) both end a watcher cleanly: the pages in hand
    are dropped unstored, the next start reads that file again and reports what it had as duplicates.
    Set explicitly because a watcher started in the background inherits SIGINT ignored."""
    with contextlib.suppress(ValueError):  # not the main thread (e.g. called from tests)
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)


def register(sub) -> None:
    p = sub.add_parser("scan", help="đọc các xấp phiếu đã quét vào cơ sở dữ liệu")
    p.add_argument("paths", nargs="*", metavar="PATH", help="PDF, TIFF, PNG/JPEG, thư mục hoặc ZIP")
    p.add_argument("--json", action="store_true", help="một dòng JSON cho mỗi trang (CONTRACT.md)")
    p.add_argument("--watch", metavar="DIR", help="theo dõi thư mục, đọc mỗi tệp mới một lần khi đã ghi xong")
    p.add_argument("--interval", type=float, default=2.0, help="giây giữa hai lần xem thư mục (mặc định 2)")
    p.add_argument(
        "--stable",
        type=float,
        metavar="GIÂY",
        help="với --watch: chỉ đọc tệp khi cỡ và giờ sửa không đổi chừng ấy giây và tệp đã ghi đến cuối "
        "(mặc định OMR_WATCH_STABLE hoặc 5)",
    )
    p.add_argument("--workers", type=int, help="số tiến trình đọc (mặc định: số nhân CPU)")
    p.add_argument("--by", help="người quét (ghi vào đợt quét)")
    p.add_argument("--period", metavar="YYYY-MM", help="tháng khảo sát của xấp phiếu (mặc định: tháng quét)")
    p.set_defaults(func=_scan)
