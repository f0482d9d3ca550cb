"""Alembic environment, driven from code (``db.session.migrate``) or by the ``alembic`` command.

When ``db.session`` runs the migrations it hands over a connection that already holds the
migration lock inside an open transaction (``config.attributes["connection"]``); the migrations run
in that transaction and the caller commits. Run by hand, the database comes from ``omr.config``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can only change a table by copying it; batch mode does that for us
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from omr.config import database_url

    engine = create_engine(database_url())
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run()
