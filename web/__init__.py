"""The web application: print sheets, upload scanned stacks, work the review queue, read results.

``create_app(config)`` builds the Flask app; ``omr serve`` (web/cli.py) runs it. Every page reads and
writes through the same database models and services as the command line: no logic lives twice.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from omr import config as omr_config

MAX_UPLOAD_MB = int(os.environ.get("OMR_MAX_UPLOAD_MB", "1024"))


def _secret_key() -> bytes:
    """The session-signing key, made once per data directory (separate from the sheet-signing key)."""
    path: Path = omr_config.home() / "web-session.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
        # a racing first start is still writing it; fall back to a fresh key for this process
        return secrets.token_bytes(32)
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=None,
        # the session cookie: not readable by scripts, not sent cross-site, HTTPS-only unless the operator
        # serves plain HTTP on a LAN (OMR_INSECURE_COOKIES=1); browsers treat loopback as secure
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("OMR_INSECURE_COOKIES", "") not in ("1", "true", "yes"),
        SESSION_COOKIE_NAME="omr_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_MB * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        # background reading of uploads: a thread in this process (tests may run it inline)
        SCAN_INLINE=False,
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key()

    from web import auth, errors, i18n, security
    from web.database import init_db
    from web.views import admin, home, images, printing, results, review, upload

    app.json.ensure_ascii = False  # Vietnamese stays readable in JSON and audit-log views
    init_db(app)
    security.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    for bp in (auth.bp, home.bp, printing.bp, upload.bp, review.bp, results.bp, admin.bp, images.bp):
        app.register_blueprint(bp)
    return app
