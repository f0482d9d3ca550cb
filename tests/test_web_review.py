"""The review queue: claiming without overlap, deciding, back, undo, unidentified pages, conflicts."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from db.models import Answer, AuditLog, Page, ReviewItem
from db.session import session
from omr import review as svc
from omr import tally
from web.testing import UNIT, Home, app_for_tests, build, csrf_from, login


@pytest.fixture
def site(tmp_path):
    with Home(tmp_path / "home"):
        data = build(tmp_path)
        yield app_for_tests(), data


def scope() -> svc.Scope:
    from web.access import UnitTree  # noqa: F401  (scope of 09552: itself and its service points)

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
    assert item["field"] in ("q_result", "q_staff") and item["options"][0]["key"] == 1
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
    table = page.split('id="throughput"')[1]
    assert "reviewer" in table
