"""End to end in headless Chromium: log in, print, upload a stack, watch it finish, clear the review
queue with the keyboard alone, and see the result change. A screenshot of each page is saved in
test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.support.web import PASSWORD, UNIT, cross, fill_clear, make_users, pale_stroke, print_sheets, save_pdf
from web.tallies import this_month

pytestmark = pytest.mark.browser


def looked_at(page) -> None:
    """Wait as a reviewer does: the item's crop on screen, and a look at it (the page ignores keys for a
    moment after an item appears, so a bounced key cannot decide it)."""
    review = page.locator("#review")
    expect(review).to_have_attribute("data-ready", review.get_attribute("data-item") or "-")
    page.wait_for_timeout(250)


def log_in(page, server, user):
    page.goto(f"{server}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator(".username")).to_have_text(user)


def test_whole_flow(server, home, page):
    make_users({"admin": ("admin", UNIT), "reviewer": ("reviewer", UNIT)})
    page.goto(f"{server}/login")
    shot(page, "01-login")
    log_in(page, server, "admin")
    shot(page, "02-start")

    # print: a PDF download, recorded
    page.click("text=In phiếu")
    page.fill("#count", "2")
    with page.expect_download() as dl:
        page.click("#print-form button[type=submit]")
    assert dl.value.suggested_filename.endswith(".pdf")
    page.goto(f"{server}/print/")
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    shot(page, "03-print")

    # a stack of three filled sheets, two of which need a person
    _, pages = print_sheets(home, 3, by="admin")
    fill_clear(pages[0], result="5")
    fill_clear(pages[1], result="4")
    cross(pages[1], "q_result", "2")  # double mark
    fill_clear(pages[2], result="5", staff="4")
    pale_stroke(pages[2], "q_staff", "2")
    stack = save_pdf(pages, home / "browser-stack.pdf")

    page.click("text=Tải phiếu quét")
    page.set_input_files("#files", str(stack))
    # sheets printed and filled today: this month's (in a month's first days last month is pre-selected)
    page.select_option("#period", this_month())
    shot(page, "04-upload")
    page.click("#upload-button")
    expect(page.locator("#batch")).to_be_visible()
    shot(page, "05-upload-progress")
    expect(page.locator("#page-results")).to_be_visible(timeout=60_000)
    expect(page.locator("#page-results tbody tr")).to_have_count(3)
    shot(page, "06-upload-done")

    page.click("text=Xem trang >> nth=0")
    expect(page.locator("img.page-image")).to_be_visible()
    shot(page, "07-page")

    # results before review
    page.goto(f"{server}/results/")
    before = page.locator(".question[data-field=q_result] td.count[data-value='2']").inner_text()
    shot(page, "08-results-before")

    # the review queue, keyboard only
    log_in_again(page, server, "reviewer")
    page.goto(f"{server}/review/")
    expect(page.locator("#question")).not_to_have_text("")
    expect(page.locator("#crop")).to_have_js_property("complete", True)
    shot(page, "09-review-item")
    page.keyboard.press("p")
    expect(page.locator("#page-overlay")).to_be_visible()
    shot(page, "10-review-whole-page")
    page.keyboard.press("Escape")
    seen = []
    review = page.locator("#review")
    for _ in range(10):
        if page.locator("#empty").is_visible():
            break
        looked_at(page)
        seen.append(page.locator("#question").inner_text())
        item_id = review.get_attribute("data-item")
        if "nhiều ô" in page.locator("#reason").inner_text():
            page.keyboard.press("4")  # the double mark: key 4 is "Không hài lòng" (value "2")
        else:
            page.keyboard.press("Enter")  # accept the machine's guess
        expect(review).not_to_have_attribute("data-item", item_id)
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#count-answer")).to_have_text("0")
    shot(page, "11-review-done")
    assert len(seen) == 2
    # Backspace shows the last decision; Z undoes it and it comes back
    page.keyboard.press("Backspace")
    expect(page.locator("#decided")).to_be_visible()
    shot(page, "12-review-back")
    page.keyboard.press("z")
    expect(page.locator("#count-answer")).to_have_text("1")
    expect(review).to_have_attribute("data-item", re.compile(r"\d"))
    looked_at(page)
    page.keyboard.press("4" if "nhiều ô" in page.locator("#reason").inner_text() else "Enter")
    expect(page.locator("#count-answer")).to_have_text("0")

    # the result follows the decisions
    page.goto(f"{server}/results/")
    after = page.locator(".question[data-field=q_result] td.count[data-value='2']").inner_text()
    assert int(after) == int(before) + 1
    shot(page, "13-results-after")
    assert not page.errors, page.errors

    # the administrator's pages, which show what this flow left (users, audit entries), and English
    log_in_again(page, server, "admin")
    admin_pages_and_english(page, server)


def log_in_again(page, server, user):
    page.context.clear_cookies()
    log_in(page, server, user)


def admin_pages_and_english(page, server):
    page.goto(f"{server}/admin/users")
    shot(page, "14-admin-users")
    page.goto(f"{server}/admin/audit")
    expect(page.locator("#audit")).to_contain_text("Duyệt câu trả lời")
    expect(page.locator("#audit")).to_contain_text("Hoàn tác quyết định")
    shot(page, "15-admin-audit")
    page.goto(f"{server}/admin/units")
    shot(page, "16-admin-units")
    page.goto(f"{server}/review/conflicts")
    shot(page, "17-review-conflicts")
    page.goto(f"{server}/review/unidentified")
    shot(page, "18-review-unidentified")
    page.click("button:has-text('English')")
    expect(page.locator("nav.mainnav")).to_contain_text("Overview")
    page.goto(f"{server}/")
    assert re.search(r"\d", page.locator("#printed").inner_text())
    shot(page, "19-start-english")
    assert not page.errors, page.errors
