"""Who may see what: roles, and the units a user is scoped to (their unit and every unit under it).

Every view that shows unit data goes through ``require_unit`` / ``current_scope`` so no page, API,
image or export ever leaks another unit's data (403 for a role that may not, 404 for data outside
the user's units, so its existence is not revealed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort, request
from flask_login import current_user, login_required

from omr.services.units import UnitTree
from omr.services.units import unit_tree as load_tree
from omr.vocab import ADMIN, REVIEWER, STAFF, VIEWER
from web.database import db

# what each role may do (the "Users, roles and access")
CAN_PRINT = (ADMIN, STAFF)
CAN_UPLOAD = (ADMIN, STAFF)
CAN_REVIEW = (ADMIN, REVIEWER)
CAN_RESULTS = (ADMIN, STAFF, REVIEWER, VIEWER)
# A ballot as its respondent filled it (the scanned page, a comment in their handwriting, one person's
# answers) is personal data: the people who handle the paper see it (staff upload it, reviewers read it,
# administrators resolve what is left); viewers see tallies and reports only.
CAN_SEE_BALLOTS = (ADMIN, STAFF, REVIEWER)
BALLOT_ENDPOINTS = frozenset(
    {"images.page", "images.page_jpeg", "images.text_png", "results.comment_image", "review.crop"}
)

_TREE_TTL = 30.0  # s: units are added rarely (and maybe by `omr units add` in another process)


_tree_lock = threading.Lock()
_tree_cache: tuple[float, str, UnitTree] | None = None


def unit_tree(force: bool = False) -> UnitTree:
    global _tree_cache
    from omr import config

    url = config.database_url()
    with _tree_lock:
        c = _tree_cache
        if not force and c is not None and c[1] == url and time.monotonic() - c[0] < _TREE_TTL:
            return c[2]
    tree = load_tree(db())
    with _tree_lock:
        _tree_cache = (time.monotonic(), url, tree)
    return tree


def invalidate_units() -> None:
    global _tree_cache
    with _tree_lock:
        _tree_cache = None


def can_see_ballots() -> bool:
    return current_user.is_authenticated and current_user.role in CAN_SEE_BALLOTS


def init_app(app: Flask) -> None:
    # templates show links to scans and comment crops only to those who may open them
    app.context_processor(lambda: {"can_see_ballots": can_see_ballots})

    @app.before_request
    def _ballots_for_their_handlers():
        # logged-out visitors pass on to the view's own login check (a redirect to the login page)
        if request.endpoint in BALLOT_ENDPOINTS and current_user.is_authenticated and not can_see_ballots():
            abort(403)


def roles(*allowed: str) -> Callable:
    """Logged in and one of ``allowed`` roles, else 403."""

    def deco(fn: Callable) -> Callable:
        @wraps(fn)
        @login_required
        def inner(*a: Any, **kw: Any):
            if current_user.role not in allowed:
                abort(403)
            return fn(*a, **kw)

        return inner

    return deco


def scope() -> frozenset[str]:
    return current_user.units


def in_scope(unit_code: str | None) -> bool:
    return unit_code is not None and unit_code in current_user.units


def require_unit(unit_code: str | None) -> str:
    """The unit if the current user may see it; 404 otherwise (its existence is not revealed)."""
    if not in_scope(unit_code):
        abort(404)
    assert unit_code is not None
    return unit_code


def chosen_unit(arg: str | None) -> str:
    """The unit a page is about: ``?unit=`` if given (and in scope), else the user's own unit."""
    return require_unit(arg or current_user.unit_code)


def unit_choices() -> list[tuple[str, str]]:
    """(code, name) of every unit in the user's scope, their own first, for a unit picker."""
    tree = unit_tree()
    own = current_user.unit_code
    codes = sorted(current_user.units - {own})
    return [(c, tree.names.get(c, c)) for c in [own, *codes]]


def unit_name(code: str | None) -> str:
    if code is None:
        return ""
    return unit_tree().names.get(code, code)
