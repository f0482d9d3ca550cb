"""Every route, every role, and a user of another unit: nobody sees data outside their units."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Page, PrintBatch, ReviewItem, ScanBatch, TextArea
from db.session import session
from omr.vocab import REVIEW_ANSWER, REVIEW_CONFLICT, REVIEW_UNIDENTIFIED
from tests.support.web import OTHER_UNIT, UNIT, Home, app_for_tests, build, login


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    with Home(tmp / "home"):
        build(tmp)
        app = app_for_tests()
        with session() as s:
            ours = s.scalars(select(Page).where(Page.unit_code == UNIT).order_by(Page.id)).first()
            theirs = s.scalars(select(Page).where(Page.unit_code == OTHER_UNIT)).first()
            unident = s.scalars(select(Page).where(Page.status == "unidentified")).first()

            def item(kind, unit):
                q = select(ReviewItem).join(Page, Page.id == ReviewItem.page_id).where(ReviewItem.kind == kind)
                q = q.where(Page.unit_code == unit) if unit else q.where(Page.unit_code.is_(None))
                return s.scalars(q).first().id

            ids = {
                "page": ours.id,
                "other_page": theirs.id,
                "unident_page": unident.id,
                "item": item(REVIEW_ANSWER, UNIT),
                "other_item": item(REVIEW_ANSWER, OTHER_UNIT),
                "unident_item": item(REVIEW_UNIDENTIFIED, None),
                "conflict_item": item(REVIEW_CONFLICT, UNIT),
                "text": s.scalars(select(TextArea).where(TextArea.page_id == ours.id)).first().id,
                "other_text": s.scalars(select(TextArea).where(TextArea.page_id == theirs.id)).first().id,
                "batch": s.scalars(select(ScanBatch).where(ScanBatch.created_by == "admin")).first().id,
                "other_batch": s.scalars(select(ScanBatch).where(ScanBatch.created_by == "other_staff")).first().id,
                "print": s.scalars(select(PrintBatch).where(PrintBatch.unit_code == UNIT)).first().id,
                "other_print": s.scalars(select(PrintBatch).where(PrintBatch.unit_code == OTHER_UNIT)).first().id,
            }
        yield app, ids


def client(app, user):
    c = app.test_client()
    assert login(c, user).status_code == 302
    return c


# route -> roles of unit 09552 that may open it (others get 403)
ROUTES = {
    "/": ("admin", "staff", "reviewer", "viewer"),
    "/print/": ("admin", "staff"),
    "/upload/": ("admin", "staff"),
    "/review/": ("admin", "reviewer"),
    "/review/unidentified": ("admin", "reviewer"),
    "/review/conflicts": ("admin", "reviewer"),
    "/review/api/next": ("admin", "reviewer"),
    "/review/api/previous": ("admin", "reviewer"),
    "/results/": ("admin", "staff", "reviewer", "viewer"),
    "/admin/users": ("admin",),
    "/admin/units": ("admin",),
    "/admin/audit": ("admin",),
}


@pytest.mark.parametrize("user", ["admin", "staff", "reviewer", "viewer"])
def test_role_rules(site, user):
    app, _ = site
    c = client(app, user)
    for url, allowed in ROUTES.items():
        r = c.get(url)
        expected = 200 if user in allowed else 403
        assert r.status_code == expected, (user, url, r.status_code)


# routes naming one object of unit 09552: (url template, roles of 09552 that may open it)
# (a viewer sees tallies only, never a ballot as its respondent filled it: web/access.py CAN_SEE_BALLOTS)
OBJECT_ROUTES = [
    ("/pages/{page}", ("admin", "staff", "reviewer")),
    ("/pages/{page}/image.jpg", ("admin", "staff", "reviewer")),
    ("/text/{text}.png", ("admin", "staff", "reviewer")),
    ("/review/api/item/{item}", ("admin", "reviewer")),
    ("/review/item/{item}/crop.png", ("admin", "reviewer")),
    ("/review/unidentified?item={unident_item}", ("admin", "reviewer")),
    ("/review/conflicts?item={conflict_item}", ("admin", "reviewer")),
    ("/upload/{batch}", ("admin", "staff")),
    ("/upload/api/{batch}", ("admin", "staff")),
    ("/print/{print}.pdf", ("admin", "staff")),
    ("/?unit=09552", ("admin", "staff", "reviewer", "viewer")),
    ("/results/?unit=09552", ("admin", "staff", "reviewer", "viewer")),
]


@pytest.mark.parametrize("role", ["admin", "staff", "reviewer", "viewer"])
def test_own_unit_objects(site, role):
    app, ids = site
    c = client(app, role)
    for tmpl, allowed in OBJECT_ROUTES:
        url = tmpl.format(**ids)
        r = c.get(url)
        assert r.status_code == (200 if role in allowed else 403), (role, url, r.status_code)


@pytest.mark.parametrize("role", ["admin", "staff", "reviewer", "viewer"])
def test_other_unit_sees_nothing_of_ours(site, role):
    """A user of another province's ward gets 403 (role) or 404 (data) for every object of 09552."""
    app, ids = site
    c = client(app, f"other_{role}")
    for tmpl, _allowed in OBJECT_ROUTES:
        url = tmpl.format(**ids)
        r = c.get(url)
        assert r.status_code in (403, 404), (role, url, r.status_code)
        body = r.get_data()
        assert b"Ki\xe1\xba\xbfn H\xc6\xb0ng" not in body  # "Kiến Hưng" never shows
    for url in ("/results/export.csv?unit=09552", "/results/comment/{page}/y_kien_khac.png".format(**ids)):
        assert c.get(url).status_code in (403, 404), url


def test_our_users_see_nothing_of_theirs(site):
    app, ids = site
    for user in ("admin", "staff", "reviewer", "viewer", "hanoi"):
        c = client(app, user)
        for tmpl in (
            "/pages/{other_page}",
            "/pages/{other_page}/image.jpg",
            "/text/{other_text}.png",
            "/review/api/item/{other_item}",
            "/review/item/{other_item}/crop.png",
            "/upload/{other_batch}",
            "/upload/api/{other_batch}",
            "/print/{other_print}.pdf",
            f"/?unit={OTHER_UNIT}",
            f"/results/?unit={OTHER_UNIT}",
        ):
            r = c.get(tmpl.format(**ids))
            assert r.status_code in (403, 404), (user, tmpl, r.status_code)


def test_state_changes_outside_scope_refused(site):
    app, ids = site
    c = client(app, "other_reviewer")
    token = c.get("/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    h = {"X-CSRFToken": token}
    assert c.post(f"/review/api/item/{ids['item']}/decide", json={"value": "5"}, headers=h).status_code == 404
    r = c.post(f"/review/conflicts/{ids['conflict_item']}", data={"keep": ids["page"], "csrf_token": token})
    assert r.status_code == 404
    r = c.post(f"/review/unidentified/{ids['unident_item']}", data={"action": "not_sheet", "csrf_token": token})
    assert r.status_code == 404
    # the other unit's reviewer only ever gets their own unit's items
    nxt = c.get("/review/api/next").get_json()["item"]
    assert nxt is not None and nxt["unit"] == OTHER_UNIT
    # an administrator of another unit manages nobody here
    a = client(app, "other_admin")
    token = a.get("/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    with session() as s:
        from db.models import User

        uid = s.scalar(select(User.id).where(User.username == "staff"))
    r = a.post(f"/admin/users/{uid}", data={"action": "unlock", "csrf_token": token})
    assert r.status_code == 404
    r = a.post(
        "/admin/users",
        data={
            "username": "x1",
            "role": "admin",
            "unit": UNIT,
            "password": "abcdefgh1",
            "password2": "abcdefgh1",
            "csrf_token": token,
        },
    )
    assert r.status_code == 404
    assert "staff" not in a.get("/admin/users").get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0].split()


def test_province_admin_sees_its_wards(site):
    app, ids = site
    c = client(app, "hanoi")
    assert c.get("/pages/{page}".format(**ids)).status_code == 200
    assert c.get("/?unit=09552").status_code == 200
    assert c.get("/results/?unit=09552").status_code == 200
    # the unidentified page was uploaded by a user of 09552, which is inside Hà Nội
    assert c.get("/pages/{unident_page}".format(**ids)).status_code == 200


def test_uploads_are_limited_to_the_uploaders_units(tmp_path):
    """A staff user of 09552 uploads a stack holding a sheet of another province's ward: it is not stored
    as that ward's response (not counted, its serial not taken), the batch page says why, and the ward's
    own people find it among their pages to place; ``omr scan`` (no uploader) still reads every unit."""
    import io

    from db.models import Answer
    from omr.services.storing import OUT_OF_SCOPE
    from omr.vocab import ACCEPTED, UNIDENTIFIED
    from tests.support.web import cross, csrf_from, fill_clear, make_users, print_sheets, save_pdf, scan
    from web.labels import sentence

    with Home(tmp_path / "home"):
        make_users({"staff": ("staff", UNIT), "other_reviewer": ("reviewer", OTHER_UNIT)})
        _, ours = print_sheets(tmp_path, 1, name="ours.pdf")
        theirs_manifest, theirs = print_sheets(tmp_path, 2, unit=OTHER_UNIT, name="theirs.pdf")
        for p in (*ours, *theirs):
            fill_clear(p)
        stack = save_pdf([ours[0], theirs[0]], tmp_path / "mixed.pdf").read_bytes()
        app = app_for_tests()
        c = client(app, "staff")
        token = csrf_from(c.get("/upload/").get_data(as_text=True))
        r = c.post(
            "/upload/",
            data={"csrf_token": token, "files": [(io.BytesIO(stack), "mixed.pdf")]},
            content_type="multipart/form-data",
        )
        assert r.status_code == 302
        page = c.get(r.headers["Location"]).get_data(as_text=True)
        foreign_serial = theirs_manifest[0]["serial"]
        assert sentence(OUT_OF_SCOPE) in page and foreign_serial not in page  # a reason: a capital first
        with session() as s:
            pages = {p.unit_code: p for p in s.scalars(select(Page))}
            assert pages[UNIT].status == ACCEPTED
            foreign = pages[OTHER_UNIT]
            assert (foreign.status, foreign.note, foreign.serial) == (UNIDENTIFIED, OUT_OF_SCOPE, foreign_serial)
            # nothing of it counts: no final answer, no answer to review; one item for a person to place
            finals = s.scalars(select(Answer.final_value).where(Answer.page_id == foreign.id)).all()
            assert finals and all(v is None for v in finals)
            kinds = s.scalars(select(ReviewItem.kind).where(ReviewItem.page_id == foreign.id)).all()
            assert kinds == [REVIEW_UNIDENTIFIED]
            foreign_id = foreign.id
        # the uploader's unit cannot open it; the ward's reviewer finds it among the pages to place
        assert c.get(f"/pages/{foreign_id}").status_code == 404
        assert client(app, "other_reviewer").get(f"/pages/{foreign_id}").status_code == 200
        # the ward's own scan of that sheet is its response: the foreign upload took nothing from it
        cross(theirs[0], "q_staff", "1")  # scanned again by its own ward: another image of the same sheet
        lines = scan([save_pdf([theirs[0]], tmp_path / "their-own.pdf")], by="other_reviewer")
        assert [line["status"] for line in lines] == ["needs_review"]
        # the command line reads every unit, whoever it says scanned
        lines = scan([save_pdf([theirs[1]], tmp_path / "cli.pdf")], by="staff")
        assert [(line["status"], line["unit"]) for line in lines] == [(ACCEPTED, OTHER_UNIT)]
