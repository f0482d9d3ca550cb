"""An unidentified page shows where it came from (the file, its page, who uploaded it), says who else
is handling one, and is handed back when its reviewer leaves the page."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from db.models import ReviewItem
from db.session import session
from tests.browser.conftest import shot
from tests.browser.test_browser_flow import log_in
from tests.support.web import UNIT, fill_clear, hide_qr, make_users, print_sheets, save_pdf, scan

pytestmark = pytest.mark.browser


def holder() -> str | None:
    with session() as s:
        return s.scalar(select(ReviewItem.assigned_to).where(ReviewItem.kind == "unidentified"))


def test_unidentified_page_source_holder_and_release(server, home, browser, page):
    make_users({"staff": ("staff", UNIT), "reviewer": ("reviewer", UNIT), "reviewer2": ("reviewer", UNIT)})
    _, pages = print_sheets(home, 1, name="unid.pdf", by="staff")
    fill_clear(pages[0])
    hide_qr(pages[0])
    scan([save_pdf(pages, home / "hom-phieu-khong-ma.pdf")], by="staff")

    log_in(page, server, "reviewer")
    page.goto(f"{server}/review/unidentified")
    source = page.locator("#source")
    expect(source).to_contain_text("hom-phieu-khong-ma.pdf, trang 1")
    expect(source).to_contain_text("staff")
    assert holder() == "reviewer"
    shot(page, "review-unidentified")

    other = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN").new_page()
    log_in(other, server, "reviewer2")
    other.goto(f"{server}/review/unidentified")
    expect(other.locator("#others")).to_contain_text("1 mục đang được reviewer xử lý")
    expect(other.locator("#count-unidentified")).to_have_text("1")

    page.goto(f"{server}/results/")  # the reviewer leaves: the page is handed back at once
    deadline = time.monotonic() + 10
    while holder() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder() is None
    other.goto(f"{server}/review/unidentified")
    expect(other.locator("#source")).to_contain_text("hom-phieu-khong-ma.pdf")
    assert holder() == "reviewer2"
    other.context.close()
    assert not page.errors, page.errors
