"""``omr worker``: a Celery worker reading pages from the queue (omr/queue.py).

Celery is imported only when a worker starts, so the other commands work without the "scale" extra
installed.
"""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    w = sub.add_parser("worker", help="máy đọc: đọc các trang gửi qua hàng đợi (cần OMR_BROKER_URL)")
    w.add_argument("--concurrency", type=int, metavar="N", help="số tiến trình đọc (mặc định: số nhân CPU)")
    w.add_argument("--loglevel", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="mức ghi nhật ký")
    w.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    from db import session as dbs
    from omr import config, queue
    from omr.services import readers, signing_key

    if args.concurrency is not None and args.concurrency < 1:
        from omr.cli.common import UserError

        raise UserError("--concurrency phải từ 1 trở lên")
    celery = queue.app()  # says so in one line if OMR_BROKER_URL is missing or Celery is not installed
    dbs.engine()  # create or migrate the database now: a worker that cannot open it says so at once
    signing_key.secret_key()
    config.pages_dir()
    queue.purge_stale_spool()
    dbs.dispose()  # the pool processes fork from here and open their own connections
    readers.before_forking_readers()  # Celery forks its worker processes from this one: the scan's own readers
    readers.keep_freed_memory()
    n = args.concurrency or readers.cores()
    argv = [
        "worker",
        f"--concurrency={n}",
        # one process: no pool to fork, the task runs in the worker itself (and kill -9 takes it whole)
        f"--pool={'solo' if n == 1 else 'prefork'}",
        f"--hostname={queue.node_name()}",
        f"--loglevel={args.loglevel}",
        f"--queues={queue.QUEUE}",
        "--without-gossip",
        "--without-mingle",
    ]
    print(
        f"Máy đọc {queue.node_name()}: {n} tiến trình, hàng đợi {queue.shown_url(config.broker_url() or '')}, "
        f"dữ liệu {config.home()}",
        file=sys.stderr,
        flush=True,
    )
    # the scanning side takes a dead worker's pages over as soon as this stops (omr/queue.py)
    queue.start_heartbeat(celery, queue.node_name())
    try:
        code = celery.worker_main(argv)
    finally:
        queue.stop_heartbeat(celery, queue.node_name())
    return int(code or 0)
