"""The review queue: claiming without overlap, deciding, back, undo, unidentified pages, conflicts."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from db.models import Answer, AuditLog, Page, ReviewItem
from db.session import session
from omr.services import review as svc
from omr.services import tally
from tests.support.web import UNIT, Home, app_for_tests, build, csrf_from, login


@pytest.fixture
def site(tmp_path):
    with Home(tmp_path / "home"):
        data = build(tmp_path)
        yield app_for_tests(), data


def scope() -> svc.Scope:
    # the scope of 09552: itself and its service points
    return svc.Scope(frozenset({UNIT}))


def api(client):
    token = csrf_from(client.get("/").get_data(as_text=True))
    return {"X-CSRFToken": token}


def test_concurrent_claims_never_overlap(site):
    _, _ = site
    got: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        got[name] = [i for i in (svc.claim_next(name, scope(), "answer") for _ in range(3)) if i]

    threads = [threading.Thread(target=worker, args=(f"r{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for ids in got.values() for i in set(ids)]
    assert len(claimed) == len(set(claimed)), got  # no item given to two reviewers
    with session() as s:
        open_items = s.scalars(
            select(ReviewItem.id)
            .join(Page, Page.id == ReviewItem.page_id)
            .where(ReviewItem.kind == "answer", Page.unit_code == UNIT)
        ).all()
    assert set(claimed) == set(open_items)


def test_decide_back_undo_and_result_changes(site):
    app, _ = site
    c = app.test_client()
    login(c, "reviewer")
    h = api(c)
    before = _q_result_counts()
    first = c.get("/review/api/next").get_json()
    item = first["item"]
    assert item["field"] in ("q_result", "q_staff") and item["options"][0]["key"] == "1"
    assert c.get(item["crop_url"]).headers["Content-Type"] == "image/png"
    assert first["counts"]["answer"] == 2
    # prefetch: a second item, never the same
    second = c.get(f"/review/api/next?exclude={item['id']}").get_json()["item"]
    assert second and second["id"] != item["id"]
    # decide the first with option key 1
    r = c.post(f"/review/api/item/{item['id']}/decide", json={"value": item["options"][0]["value"]}, headers=h)
    assert r.status_code == 200 and r.get_json()["counts"]["answer"] == 1
    # the second by accepting the machine's guess
    r = c.post(f"/review/api/item/{second['id']}/decide", json={"accept": True}, headers=h)
    assert r.status_code == 200
    assert c.get("/review/api/next").get_json()["item"] is None
    # back: the latest decision first, then the one before
    prev = c.get("/review/api/previous").get_json()["item"]
    assert prev["id"] == second["id"] and prev["status"] == "done"
    prev2 = c.get(f"/review/api/previous?before={prev['id']}").get_json()["item"]
    assert prev2["id"] == item["id"]
    # undo the last decision: it is open again and shown
    r = c.post("/review/api/undo", json={}, headers=h).get_json()
    assert r["item"]["id"] == second["id"] and r["item"]["status"] == "open"
    assert r["counts"]["answer"] == 1
    r = c.post(f"/review/api/item/{second['id']}/decide", json={"value": None}, headers=h)
    assert r.status_code == 200
    with session() as s:
        entries = s.scalars(select(AuditLog).where(AuditLog.user == "reviewer").order_by(AuditLog.id)).all()
        assert [e.action for e in entries] == ["review.answer", "review.answer", "review.undo", "review.answer"]
        assert entries[0].old["final_state"] is None and entries[0].new["final_value"] == item["options"][0]["value"]
    after = _q_result_counts()
    assert after != before  # the tally follows the reviewer's decision


def _q_result_counts() -> dict:
    with session() as s:
        res = tally.compute(s, tally.Period.parse(_month()).code, UNIT)
    q = next(q for f in res.forms for q in f.questions if q.field == "q_result")
    return {"options": {o.value: o.count for o in q.options}, "pending": q.pending}


def _month() -> str:
    from web.tallies import this_month

    return this_month()


def test_bad_values_and_someone_elses_item(site):
    app, _ = site
    a, b = app.test_client(), app.test_client()
    login(a, "reviewer")
    login(b, "admin")
    item = a.get("/review/api/next").get_json()["item"]
    r = a.post(f"/review/api/item/{item['id']}/decide", json={"value": "99"}, headers=api(a))
    assert r.status_code == 400 and "error" in r.get_json()
    # the item is the reviewer's: an administrator deciding it at the same time is refused
    r = b.post(f"/review/api/item/{item['id']}/decide", json={"value": item["options"][0]["value"]}, headers=api(b))
    assert r.status_code == 409
    assert b.get("/review/api/next").get_json()["item"]["id"] != item["id"]


def test_unidentified_page_is_identified_and_read(site):
    app, data = site
    c = app.test_client()
    login(c, "reviewer")
    page = c.get("/review/unidentified").get_data(as_text=True)
    assert "Nhận dạng và đọc lại" in page
    token = csrf_from(page)
    with session() as s:
        item = s.scalar(select(ReviewItem).where(ReviewItem.kind == "unidentified"))
    r = c.post(f"/review/unidentified/{item.id}", data={"serial": "999999", "sheet_page": "1", "csrf_token": token})
    assert r.status_code == 302  # an unknown serial: the message is shown, nothing changes
    assert "chưa từng được in" in c.get(r.headers["Location"]).get_data(as_text=True)
    r = c.post(
        f"/review/unidentified/{item.id}", data={"serial": data.serials[3], "sheet_page": "1", "csrf_token": token}
    )
    assert r.status_code == 302
    with session() as s:
        p = s.scalar(select(Page).where(Page.serial == data.serials[3]))
        assert p is not None and p.status == "accepted" and p.unit_code == UNIT
        answers = {a.field: a.final_value for a in s.scalars(select(Answer).where(Answer.page_id == p.id))}
        assert answers["q_result"] == "5" and answers["q_area"] == "3"
        it = s.get(ReviewItem, item.id)
        assert it.status == "done" and it.page_id == p.id and it.resolved_by == "reviewer"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "review.identify")) is not None


def test_not_a_sheet(site):
    app, _ = site
    c = app.test_client()
    login(c, "admin")
    token = csrf_from(c.get("/review/unidentified").get_data(as_text=True))
    with session() as s:
        item = s.scalar(select(ReviewItem).where(ReviewItem.kind == "unidentified"))
    r = c.post(f"/review/unidentified/{item.id}", data={"action": "not_sheet", "csrf_token": token})
    assert r.status_code == 302
    with session() as s:
        assert s.get(Page, item.page_id).status == "invalid"


def test_conflict_keep_the_later_scan(site):
    app, data = site
    c = app.test_client()
    login(c, "reviewer")
    page = c.get("/review/conflicts").get_data(as_text=True)
    assert "Giữ bản này" in page and data.serials[0] in page
    with session() as s:
        item = s.scalar(select(ReviewItem).where(ReviewItem.kind == "conflict"))
        earlier = s.scalar(select(Page).where(Page.serial == data.serials[0], Page.status == "accepted"))
    r = c.post(f"/review/conflicts/{item.id}", data={"keep": item.page_id, "csrf_token": csrf_from(page)})
    assert r.status_code == 302
    with session() as s:
        assert s.get(Page, item.page_id).status == "accepted"
        assert s.get(Page, earlier.id).status == "conflict"
        finals = {a.field: a.final_value for a in s.scalars(select(Answer).where(Answer.page_id == item.page_id))}
        assert finals["q_result"] == "1"
    # Z takes it back
    r = c.post("/review/api/undo", json={}, headers=api(c))
    assert r.status_code == 200
    with session() as s:
        assert s.get(Page, earlier.id).status == "accepted"


def test_throughput_for_admins(site):
    app, _ = site
    r_ = app.test_client()
    login(r_, "reviewer")
    h = api(r_)
    while (item := r_.get("/review/api/next").get_json()["item"]) is not None:
        r_.post(f"/review/api/item/{item['id']}/decide", json={"accept": True}, headers=h)
    a = app.test_client()
    login(a, "admin")
    page = a.get("/admin/users").get_data(as_text=True)
    table = page.split('id="throughput"')[1].split("</table>")[0]
    row = table.split("<td>reviewer</td>")[1].split("</tr>")[0]
    # two decisions in a few seconds: counted, but no rate per hour made up from them
    assert '<td class="num">2</td>' in row and "chưa đủ mục để tính" in row


def test_throughput_rate_only_when_enough_items_back_it():
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    few = svc.Throughput("a", 7, 7 * 2.4 / 3600, t0)  # seven items two seconds apart
    assert few.per_hour > 1000 and not few.reliable
    many = svc.Throughput("b", 600, 0.5, t0 + timedelta(hours=1))
    assert many.reliable and many.per_hour == 1200


# --------------------------------------------------------------------------- the queue under load


def _synthetic_queue(per_unit: int) -> dict[str, list[int]]:
    """``per_unit`` open answer items on pages of UNIT and as many of another unit (straight into the
    database: the claim and decide code does not care how a page was read)."""
    from db.session import transaction
    from omr.sheet.templates import get_form
    from omr.vocab import REVIEW_OPEN
    from tests.support.web import FORM, OTHER_UNIT

    version = get_form(FORM).version
    ids: dict[str, list[int]] = {UNIT: [], OTHER_UNIT: []}
    with transaction() as s:
        for unit in (UNIT, OTHER_UNIT):
            for n in range(per_unit):
                p = Page(
                    source="synthetic.pdf",
                    source_page=n,
                    sha256=uuid.uuid4().hex * 2,
                    image_path="pages/none.png",
                    status="needs_review",
                    serial=f"{unit[:2]}{n:04d}",
                    sheet_page=1,
                    form_id=FORM,
                    form_version=version,
                    variant="c6p0",
                    unit_code=unit,
                )
                s.add(p)
                s.flush()
                a = Answer(page_id=p.id, field="q_result", machine_value="2", machine_state="multiple", confidence=0.4)
                s.add(a)
                s.flush()
                item = ReviewItem(page_id=p.id, answer_id=a.id, kind="answer", status=REVIEW_OPEN)
                s.add(item)
                s.flush()
                ids[unit].append(item.id)
    return ids


def _work_the_queue_concurrently(reviewers: int) -> dict[str, list[int]]:
    """Each reviewer thread claims and decides until the queue is empty; what each decided."""
    done: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(reviewers)

    def reviewer(name: str) -> None:
        mine: list[int] = []
        try:
            start.wait()
            while (item_id := svc.claim_next(name, scope(), "answer")) is not None:
                svc.decide_answer(name, scope(), item_id, None, accept_machine=True)
                mine.append(item_id)
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)
        done[name] = mine

    threads = [threading.Thread(target=reviewer, args=(f"r{i}",)) for i in range(reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return done


def _check_each_item_decided_once(done: dict[str, list[int]], ids: dict[str, list[int]]) -> None:
    decided = [i for items in done.values() for i in items]
    assert len(decided) == len(set(decided)), "an item was given to two reviewers"
    assert set(decided) == set(ids[UNIT])  # the whole queue of the unit, and nothing of another unit
    with session() as s:
        entries = [e.new["item"] for e in s.scalars(select(AuditLog).where(AuditLog.action == "review.answer"))]
        assert sorted(entries) == sorted(decided)  # one decision recorded per item
        states = dict(s.execute(select(ReviewItem.id, ReviewItem.status)).all())
    assert all(states[i] == "done" for i in ids[UNIT])
    assert all(states[i] == "open" for i in ids[next(u for u in ids if u != UNIT)])


def test_many_reviewers_clear_a_queue_without_overlap_sqlite(omr_home):
    ids = _synthetic_queue(60)
    _check_each_item_decided_once(_work_the_queue_concurrently(12), ids)


@pytest.mark.postgres
def test_many_reviewers_clear_a_queue_without_overlap_postgresql(omr_home, monkeypatch):
    """The single-statement claim (UPDATE … WHERE id = (… FOR UPDATE SKIP LOCKED) RETURNING) on a real
    PostgreSQL server, where claimers really run at the same time."""
    import subprocess

    from servers import ServerUnavailable, postgres

    from db import session as dbs

    try:
        ctx = postgres()
        url = ctx.__enter__()
    except (ServerUnavailable, subprocess.CalledProcessError) as e:
        pytest.skip(f"PostgreSQL not available: {e}")
    try:
        monkeypatch.setenv("OMR_DATABASE_URL", url)
        ids = _synthetic_queue(60)
        _check_each_item_decided_once(_work_the_queue_concurrently(12), ids)
        # two people deciding the same free item at the same moment: exactly one of them gets it
        extra = _synthetic_queue(1)[UNIT][0]
        outcomes: list[str] = []
        both = threading.Barrier(2)

        def decide(name: str) -> None:
            both.wait()
            try:
                svc.decide_answer(name, scope(), extra, "1")
                outcomes.append("ok")
            except svc.Taken:
                outcomes.append("taken")

        threads = [threading.Thread(target=decide, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["ok", "taken"]
    finally:
        dbs.dispose()
        ctx.__exit__(None, None, None)


def test_held_items_first_and_at_most_three(omr_home):
    ids = _synthetic_queue(6)[UNIT]
    first = svc.claim_next("r1", scope(), "answer")
    assert first == ids[0]  # queue order: by page, then item
    assert svc.claim_next("r1", scope(), "answer") == first  # a reload shows the item held
    second = svc.claim_next("r1", scope(), "answer", exclude=[first])  # the two prefetched behind it
    third = svc.claim_next("r1", scope(), "answer", exclude=[first, second])
    assert (second, third) == (ids[1], ids[2])
    assert svc.claim_next("r1", scope(), "answer", exclude=[first, second, third]) is None  # holds three
    assert svc.claim_next("r2", scope(), "answer") == ids[3]  # another reviewer gets the next free one
    # the item whose decision is on its way does not count: the prefetch behind it gets an item
    assert svc.claim_next("r1", scope(), "answer", exclude=[second, third], saving=[first]) == ids[4]
    svc.decide_answer("r1", scope(), first, "1")
    with pytest.raises(svc.Taken):
        svc.decide_answer("r2", scope(), second, "1")  # r1's item
    svc.release("r1", [second, third, ids[4]])
    assert svc.claim_next("r2", scope(), "answer", exclude=[ids[3]]) == second


def test_saving_lets_off_only_a_few(omr_home):
    """A client cannot hold the whole queue by calling everything "being saved"."""
    ids = _synthetic_queue(12)[UNIT]
    held: list[int] = []
    while (got := svc.claim_next("r1", scope(), "answer", exclude=held, saving=held)) is not None:
        held.append(got)
    assert len(held) == svc.MAX_HELD + svc.MAX_SAVING < len(ids)


@pytest.mark.parametrize("later_page", ["same page, another question", "page 10 after page 1"])
def test_undo_restores_the_answer_it_undoes(omr_home, later_page):
    """Undo looks up the audit entry of exactly the answer it takes back: a later decision on another
    question of the same page, or on page 10 (whose name starts like page 1's), is not it."""
    ids = _synthetic_queue(12)[UNIT]
    with session() as s:
        items = {i: s.get(ReviewItem, i) for i in ids}
        by_page = {it.page_id: it.id for it in items.values()}
        first = by_page[1]
        if later_page.startswith("same"):
            page1 = s.get(Page, 1)
            extra = Answer(page_id=1, field="q_staff", machine_value="2", machine_state="multiple", confidence=0.4)
            s.add(extra)
            s.flush()
            other_item = ReviewItem(page_id=page1.id, answer_id=extra.id, kind="answer", status="open")
            s.add(other_item)
            s.commit()
            other = other_item.id
        else:
            other = by_page[10]
    svc.decide_answer("r1", scope(), first, "5")
    svc.decide_answer("r1", scope(), first, "4")  # changed their mind: the old value is r1's "5"
    svc.decide_answer("r1", scope(), other, "3")
    assert svc.undo_last("r1", scope()) == other
    assert svc.undo_last("r1", scope()) == first
    with session() as s:
        item = s.get(ReviewItem, first)
        ans = s.get(Answer, item.answer_id)
        assert (ans.final_value, ans.decided_by) == ("5", "r1")  # back to r1's first decision
        assert item.status == "done"
        other_ans = s.get(Answer, s.get(ReviewItem, other).answer_id)
        assert other_ans.final_state is None


def test_claim_walks_the_queue_index(omr_home):
    """The claim reads the queue in index order and stops at the first free item: no sort of every
    open item on each claim (migration 0003). Every statement a claim runs that orders review items
    is asked for SQLite's plan."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from db.session import engine

    _synthetic_queue(3)
    ordered: list[tuple[str, tuple]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "review_items" in statement and "ORDER BY" in statement:
            ordered.append((statement, tuple(parameters)))

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        assert svc.claim_next("r1", scope()) is not None
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert ordered
    with engine().connect() as conn:
        for statement, values in ordered:
            plan = " / ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, values))
            assert "ix_review_items_queue" in plan and "TEMP B-TREE" not in plan, plan


def test_login_does_not_hold_up_reviewers(tmp_path):
    """A right password is checked without the database's write lock: someone logging in (argon2 on
    purpose takes a while) never makes the reviewers' decisions wait. A wrong one is still counted."""
    import sqlite3

    from db.models import User
    from omr import config
    from tests.support.web import PASSWORD, make_users

    with Home(tmp_path / "home"):
        make_users({"reviewer": ("reviewer", UNIT)})
        app = app_for_tests()
        writer = sqlite3.connect(config.home() / config.DB_FILE, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock meanwhile
        result: list[int] = []
        t = threading.Thread(target=lambda: result.append(login(app.test_client(), "reviewer").status_code))
        t.start()
        t.join(30)
        done_while_locked = not t.is_alive()
        writer.execute("ROLLBACK")
        writer.close()
        t.join(60)
        assert done_while_locked, "the login waited for the write lock"
        assert result == [302]
        # a wrong password, then the right one: the failure is counted, then forgotten
        c = app.test_client()
        assert login(c, "reviewer", "sai-mat-khau").status_code == 401
        with session() as s:
            assert s.scalar(select(User.failed_logins).where(User.username == "reviewer")) == 1
        assert login(c, "reviewer", PASSWORD).status_code == 302
        with session() as s:
            assert s.scalar(select(User.failed_logins).where(User.username == "reviewer")) == 0


def test_warm_up_before_the_first_request_changes_nothing(omr_home):
    """`omr serve` warms each process up (fonts, form layouts, the queue's queries) before it serves."""
    from web import warm_up

    ids = _synthetic_queue(2)[UNIT]
    warm_up()
    with session() as s:
        items = s.execute(select(ReviewItem.status, ReviewItem.assigned_to).where(ReviewItem.id.in_(ids))).all()
        assert items == [("open", None), ("open", None)]
        assert s.scalar(select(AuditLog).where(AuditLog.action.like("review.%"))) is None


def test_crop_shows_the_options_only_large(site):
    """The crop holds the question's options and nothing of the lines printed above or below it: no
    dark run across a row longer than a box and its label's letters; boxes at least 40 px."""
    import cv2
    import numpy as np

    from web.crops import CROP_PX_PER_MM

    app, _ = site
    c = app.test_client()
    login(c, "reviewer")
    assert CROP_PX_PER_MM * 4.5 >= 40
    seen = 0
    while (item := c.get("/review/api/next", query_string={"exclude": ""}).get_json()["item"]) is not None:
        png = c.get(item["crop_url"]).data
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
        dark = img < 90
        longest = 0
        for row in dark:
            runs = np.diff(np.flatnonzero(np.diff(np.r_[0, row.astype(np.int8), 0])))[::2]
            longest = max(longest, int(runs.max()) if len(runs) else 0)
        assert longest < CROP_PX_PER_MM * 4.5 * 1.5, f"a line {longest} px long in the crop of item {item['id']}"
        c.post(f"/review/api/item/{item['id']}/decide", json={"value": None}, headers=api(c))
        seen += 1
    assert seen == 2


def test_option_keys_one_press_each():
    assert svc.option_keys(5) == ("1", "2", "3", "4", "5")
    keys = svc.option_keys(12)
    assert keys[8:] == ("9", "a", "b", "c") and len(set(keys)) == 12
    assert not {"p", "z", "x", "0"} & set(svc.option_keys(len(svc.OPTION_LETTERS) + 9))


def test_conflict_held_by_someone_else_says_who(site):
    app, _ = site
    a, b = app.test_client(), app.test_client()
    login(a, "reviewer")
    login(b, "admin")
    assert 'id="conflict-form"' in a.get("/review/conflicts").get_data(as_text=True)  # the reviewer holds it
    page = b.get("/review/conflicts").get_data(as_text=True)
    assert "1 mục đang được reviewer xử lý." in page and 'id="conflict-form"' not in page


def test_review_errors_in_the_page_language(site):
    """A refused decision is explained in the page's language, as a sentence."""
    app, _ = site
    a, b = app.test_client(), app.test_client()
    login(a, "reviewer")
    login(b, "admin")
    item = a.get("/review/api/next").get_json()["item"]
    value = item["options"][0]["value"]
    r = b.post(f"/review/api/item/{item['id']}/decide", json={"value": value}, headers=api(b))
    assert r.status_code == 409 and r.get_json()["error"] == "Mục này đang do người khác duyệt"
    b.post("/lang", data={"lang": "en", "csrf_token": api(b)["X-CSRFToken"], "next": "/"})
    r = b.post(f"/review/api/item/{item['id']}/decide", json={"value": value}, headers=api(b))
    assert r.status_code == 409 and r.get_json()["error"] == "Someone else is reviewing this item"
    page = b.post(
        f"/review/unidentified/{_unidentified_id()}",
        data={"csrf_token": api(b)["X-CSRFToken"], "serial": "424242", "sheet_page": "1"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Sheet number 424242 was never printed by this installation" in page


def _unidentified_id() -> int:
    with session() as s:
        return s.scalar(select(ReviewItem.id).where(ReviewItem.kind == "unidentified"))
