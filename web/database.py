"""One database session per request, closed when the request ends.

Reads go through ``db()``; writes open their own short ``transaction()`` (SQLite's BEGIN IMMEDIATE)
so a request never holds the write lock while it renders a page.
"""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy.orm import Session

from db.session import session, transaction
from omr import config

__all__ = ["db", "init_db", "transaction"]


def db() -> Session:
    s = g.get("_db")
    if s is None:
        s = g._db = session(config.database_url())
    return s


def init_db(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(_exc) -> None:
        s = g.pop("_db", None)
        if s is not None:
            s.close()


def after_write() -> None:
    """End the request's read transaction, so what is read next sees the write just committed
    (SQLite's WAL readers keep the snapshot they started with)."""
    s = g.get("_db")
    if s is not None:
        s.commit()
