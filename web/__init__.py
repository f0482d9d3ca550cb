"""The web application: print sheets, upload scanned stacks, work the review queue, read results.

``create_app(config)`` builds the Flask app; ``omr serve`` (omr/cli/serve.py) runs it. Every page reads and
writes through the same database models and services as the command line: no logic lives twice.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, cast

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from omr import config as omr_config
from omr.services.users import SESSION_LIFETIME


def _secret_key() -> bytes:
    """The session-signing key, made once per data directory (separate from the sheet-signing key).

    Several web processes may start at once (gunicorn): the key is written to a temporary file and
    linked into place, so the file appears complete or not at all, and every process ends up with the
    same key (a process with a key of its own would log users out at random)."""
    path: Path = omr_config.home() / "web-session.key"
    if path.exists():
        return path.read_bytes()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process linked its key first: use that one
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=None,
        # the session cookie: not readable by scripts, not sent cross-site, HTTPS-only unless the operator
        # serves plain HTTP on a LAN (OMR_INSECURE_COOKIES=1); browsers treat loopback as secure
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not omr_config.insecure_cookies(),
        SESSION_COOKIE_NAME="omr_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,  # the server ends it then too, however used (web/auth.py)
        MAX_CONTENT_LENGTH=omr_config.max_upload_mb() * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
        # background reading of uploads: a thread in this process (tests may run it inline)
        SCAN_INLINE=False,
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key()
    proxies = omr_config.trusted_proxies()
    if proxies > 0:
        # behind that many reverse proxies (HTTPS in front): the client's own address, which failed
        # logins are throttled by, is in X-Forwarded-For; without this every user has the proxy's address
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    from web import access, auth, errors, i18n, security
    from web.database import init_db
    from web.views import admin, home, images, issued, printing, results, review, upload

    # Flask's own JSON provider: Vietnamese stays readable in JSON and audit-log views
    cast(DefaultJSONProvider, app.json).ensure_ascii = False
    init_db(app)
    security.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    for bp in (auth.bp, home.bp, printing.bp, upload.bp, review.bp, results.bp, issued.bp, admin.bp, images.bp):
        app.register_blueprint(bp)
    return app


def warm_up() -> None:
    """Do once, before a server process takes its first request, what its first requests would
    otherwise all do at the same moment: load the fonts and lay out every form (the review queue shows
    each question with its options), and compile the review queue's queries. Without this, the first
    reviewers after a start wait for it, each gunicorn process doing it in several threads at once.
    Nothing is written.
    """
    from db.session import session
    from omr.services import review
    from omr.sheet.layout import layout_for
    from omr.sheet.templates import all_forms

    for form in all_forms().values():
        layout_for(form.id, form.version)
    with session() as s:
        review.warm_up(s)
