"""The queue's spool: the page images of a scan going through the queue (``omr.queue``), one folder per
scan batch under OMR_HOME, where workers on any machine read them. A folder outlives its scan only if
the scan was killed; such folders are removed by ``omr worker`` as it starts and by ``omr doctor``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from db import session as dbs
from db.models import SCAN_RUNNING, ScanBatch
from omr import config

SPOOL = "spool"


def batch_dir(batch_id: int) -> Path:
    """Where the pages of scan batch ``batch_id`` wait for the workers."""
    return config.home() / SPOOL / str(batch_id)


def stale() -> list[Path]:
    """Spool folders of scans that are no longer running (their scanner was killed)."""
    root = config.home() / SPOOL
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    if not dirs:
        return []
    with dbs.session() as s:
        live = set(
            s.scalars(
                select(ScanBatch.id).where(
                    ScanBatch.id.in_([int(p.name) for p in dirs]), ScanBatch.status == SCAN_RUNNING
                )
            )
        )
    return sorted(p for p in dirs if int(p.name) not in live)
