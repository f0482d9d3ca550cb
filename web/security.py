"""Security headers on every response, CSRF protection on every state-changing request, and no
invisible direction or zero-width characters in any text a page shows."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup

csrf = CSRFProtect()

# No inline script or style anywhere: everything comes from /static, so the policy can be strict.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


# Direction overrides and isolates (a unit or file named "Trạm\u202egnp.exe" shows as "Trạmexe.png"),
# zero-width characters and the byte-order mark: Vietnamese needs none of them, and on a page they make
# one text look like another.
INVISIBLE = dict.fromkeys([*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF])


def visible(value: Any) -> Any:
    """What a template shows of a value (Jinja's ``finalize``, applied to every ``{{ … }}``): text without
    invisible characters, escaped afterwards as usual; anything else as it is."""
    if isinstance(value, Markup):
        return Markup(str.translate(value, INVISIBLE))
    if isinstance(value, str):
        return value.translate(INVISIBLE)
    return value


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.jinja_env.finalize = visible

    @app.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        # pages, images and downloads show survey data: kept in no cache, not even the browser's own on a
        # shared office PC (a file sent by send_file would otherwise say "no-cache", which still stores it)
        if not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        return resp
