"""The review queue as a reviewer works it, in headless Chromium against a real server: keys that
cannot lose an answer, the next items always ready (also on a slow network), a crop a person can
judge, held items handed back when the page goes away."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from db.models import Answer, AuditLog, ReviewItem
from db.session import session
from omr.services import review as svc
from tests.browser.conftest import shot
from tests.browser.queue_data import clone_queue, close_queue, scan_models
from tests.browser.test_browser_flow import log_in
from tests.support.web import UNIT, make_users
from web.crops import CROP_PX_PER_MM, READING_COLOURS

pytestmark = pytest.mark.browser

SCOPE = svc.Scope(frozenset({UNIT}))
TODAY_BOX_PX = 20  # a 4.5 mm box in the crop as it was shown before (issue 12)


@pytest.fixture(scope="module")
def models(home):
    make_users({"admin": ("admin", UNIT), "reviewer": ("reviewer", UNIT), "reviewer2": ("reviewer", UNIT)})
    return scan_models(home)


@pytest.fixture
def reviewer(models, server, page):
    close_queue()
    log_in(page, server, "reviewer")
    return page


def open_queue(page, server) -> None:
    page.goto(f"{server}/review/")
    expect(page.locator("#review")).not_to_have_attribute("data-ready", "")


def wait_ahead(page, n: int = 2, timeout: float = 10.0) -> None:
    # polled from here: the page's policy forbids the string evaluation wait_for_function uses
    assert until(lambda: page.evaluate("window.omrReview ? window.omrReview.ahead() : 0") >= n, timeout), (
        f"fewer than {n} items prefetched"
    )


def wait_ready(page, item_id: int) -> None:
    expect(page.locator("#review")).to_have_attribute("data-ready", str(item_id))
    # the guard against bounced keys runs from the moment the crop is on screen: a person's look is longer
    page.wait_for_timeout(250)


def status(item_id: int) -> tuple[str, str | None, str | None]:
    with session() as s:
        it = s.get(ReviewItem, item_id)
        ans = s.get(Answer, it.answer_id)
        return it.status, ans.final_state, ans.final_value


def until(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_double_enter_saves_only_the_item_seen(reviewer, server):
    page = reviewer
    ids = clone_queue(4, ("pale",))  # every item has a machine guess: Enter would save it
    open_queue(page, server)
    wait_ready(page, ids[0])
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # a few ms later: meant for nothing the reviewer has seen
    assert until(lambda: status(ids[0])[0] == "done")
    expect(page.locator("#review")).to_have_attribute("data-item", str(ids[1]))
    assert page.evaluate("window.omrReview.ignored") >= 1  # the second press reached the page and was dropped
    wait_ready(page, ids[1])
    assert status(ids[1]) == ("open", None, None)
    page.keyboard.press("Enter")  # once the item has been on screen a moment, Enter works
    assert until(lambda: status(ids[1])[0] == "done")
    assert status(ids[2])[0] == "open"
    assert not page.errors, page.errors


def test_enter_without_a_machine_guess_saves_nothing(reviewer, server):
    page = reviewer
    ids = clone_queue(2, ("multiple",))  # two marks: the machine has no guess
    open_queue(page, server)
    wait_ready(page, ids[0])
    expect(page.locator("#enter-hint")).to_contain_text("máy không đoán")
    expect(page.locator("#decided")).to_contain_text("0 nếu người dân không trả lời")
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text("Enter không lưu gì")
    expect(page.locator("#review")).to_have_attribute("data-item", str(ids[0]))
    page.keyboard.press("0")  # "no answer" is said with 0
    assert until(lambda: status(ids[0]) == ("done", "blank", None))
    with session() as s:
        n = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "review.answer"))
    wait_ready(page, ids[1])
    assert status(ids[1]) == ("open", None, None)
    with session() as s:  # Enter wrote nothing: the one entry since is the 0
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "review.answer")) == n
    assert not page.errors, page.errors


def test_next_items_ready_on_a_slow_network(reviewer, server):
    page = reviewer
    ids = clone_queue(8, ("pale",))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    latency = 300  # ms each way: an item fetched on demand could not appear in less
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency, "downloadThroughput": 1_000_000, "uploadThroughput": 500_000},
    )
    open_queue(page, server)
    for n in range(4):
        wait_ready(page, ids[n])
        wait_ahead(page, 2)
        page.wait_for_timeout(400)  # a reviewer's look at the item
        page.keyboard.press("Enter")
        expect(page.locator("#review")).to_have_attribute("data-ready", str(ids[n + 1]))
        ms = page.evaluate("window.omrReview.shown[window.omrReview.shown.length - 1].ms")
        assert ms < latency / 2, f"item {n + 2} took {ms:.0f} ms from the key to its crop on screen"
    assert until(lambda: all(status(i)[0] == "done" for i in ids[:4]))
    assert not page.errors, page.errors


def test_empty_prefetch_asks_again_and_says_who_holds_items(reviewer, server):
    page = reviewer
    ids = clone_queue(4, ("pale",))
    taken: list[int] = []
    for _ in range(3):  # another reviewer holds as many as one may: the first three
        taken.append(svc.claim_next("reviewer2", SCOPE, "answer", exclude=taken))
    assert taken == ids[:3]
    open_queue(page, server)
    expect(page.locator("#review")).to_have_attribute("data-ready", str(ids[3]))
    expect(page.locator("#others")).to_contain_text("3 câu đang được reviewer2 xử lý")
    assert page.evaluate("window.omrReview.ahead()") == 0
    shot(page, "review-others-hold")
    svc.release("reviewer2", taken)
    wait_ahead(page, 2)  # asked again without a key press, and got them
    page.wait_for_timeout(250)
    page.keyboard.press("Enter")
    expect(page.locator("#review")).to_have_attribute("data-ready", str(ids[0]))
    assert not page.errors, page.errors


def test_ten_options_one_key_each(reviewer, server):
    page = reviewer
    ids = clone_queue(1, ("areas",))  # ten areas, the tenth ("Khác") a pale stroke beside a clear "3"
    open_queue(page, server)
    wait_ready(page, ids[0])
    expect(page.locator("#options li[data-value='0'] kbd")).to_have_text("A")
    page.keyboard.press("a")
    # chosen by the key press itself: no waiting for a second digit
    assert page.evaluate("document.querySelector(\"#options li[data-value='0']\").classList.contains('selected')")
    page.keyboard.press("Enter")
    assert until(lambda: status(ids[0]) == ("done", "marked", "0,3"))
    assert not page.errors, page.errors


def test_crop_large_band_only_reading_visible_zoom_and_page(reviewer, server):
    page = reviewer
    ids = clone_queue(2, ("pale",))
    open_queue(page, server)
    wait_ready(page, ids[0])
    crop = page.locator("#crop")
    natural, shown = crop.evaluate("i => [i.naturalWidth, i.clientWidth]")
    box_px = CROP_PX_PER_MM * 4.5 * shown / natural
    assert box_px >= 2 * TODAY_BOX_PX, f"boxes shown at {box_px:.0f} px"
    # the machine's reading as outline colours: the pale stroke's box in orange, the clear mark in blue
    png = page.request.get(crop.evaluate("i => i.src")).body()
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    for reading in ("WEAK", "MARK"):
        colour = np.array(next(c for b, c in READING_COLOURS.items() if b.name == reading))
        assert (np.abs(img.astype(int) - colour).sum(axis=2) < 40).sum() > 200, reading
    expect(page.locator("#legend .legend-item")).to_have_count(5)
    shot(page, "review-item")
    page.keyboard.press("x")
    zoomed = crop.evaluate("i => i.getBoundingClientRect().width")
    assert zoomed > 1.5 * shown
    shot(page, "review-zoomed")
    page.keyboard.press("Escape")
    page.keyboard.press("p")
    expect(page.locator("#page-overlay")).to_be_visible()
    expect(page.locator("#page-image")).to_have_js_property("complete", True)
    page.keyboard.press("p")
    page.keyboard.press("Enter")
    wait_ready(page, ids[1])
    toast = page.locator("#toast")
    expect(toast).to_contain_text("Đã lưu (Phiếu 900")
    # the line about the item just saved sits above the new question, never under it
    assert toast.bounding_box()["y"] + toast.bounding_box()["height"] <= page.locator("#question").bounding_box()["y"]
    shot(page, "review-after-save")
    assert not page.errors, page.errors


def set_hidden(page, hidden: bool) -> None:
    """What the browser does when the window is minimised or covered (headless Chromium has no windows
    to cover): the page's visibility changes and it is told so."""
    page.evaluate(
        """h => { Object.defineProperty(document, "hidden", {value: h, configurable: true});
                  Object.defineProperty(document, "visibilityState", {value: h ? "hidden" : "visible",
                                                                      configurable: true});
                  document.dispatchEvent(new Event("visibilitychange")); }""",
        hidden,
    )


@pytest.mark.parametrize("how", ["tab closed", "another page", "window hidden"])
def test_held_items_released_when_the_page_goes(models, server, browser, how):
    close_queue()
    ids = clone_queue(5, ("pale",))
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    log_in(page, server, "reviewer")
    open_queue(page, server)
    wait_ahead(page, 2)

    def held() -> int:
        with session() as s:
            return s.scalar(
                select(func.count())
                .select_from(ReviewItem)
                .where(ReviewItem.assigned_to == "reviewer", ReviewItem.status == "open")
            )

    assert held() == 3  # on screen and two behind it
    if how == "tab closed":
        page.close(run_before_unload=True)
    elif how == "another page":
        page.goto(f"{server}/results/")
    else:  # the browser minimised or another tab in front: the page hears "visibilitychange", hidden
        set_hidden(page, True)
    assert until(lambda: held() == 0), "items still held after the page went away"
    if how == "window hidden":  # back in front: the page claims again and shows an item
        set_hidden(page, False)
        assert until(lambda: held() == 3)
        expect(page.locator("#review")).not_to_have_attribute("data-ready", "")
        svc.release("reviewer", ids)
    # and someone else gets them at once, not after the five minutes a claim takes to go stale
    assert svc.claim_next("reviewer2", SCOPE, "answer") == ids[0]
    svc.release("reviewer2", [ids[0]])
    ctx.close()
