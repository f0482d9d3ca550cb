"""Storage: SQLAlchemy models, engine and session helpers, Alembic migrations, built-in units.

Use ``db.session.session()`` / ``db.session.transaction()``; the schema is created or migrated on
first use, on SQLite (default, under OMR_HOME) and PostgreSQL (``OMR_DATABASE_URL``) alike.
"""
