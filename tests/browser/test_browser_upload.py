"""The upload batch page keeps its facts: files turned away and why, per-file and per-page results,
after any reload; the transfer's progress; every message in the page's language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.test_browser_flow import log_in
from tests.support.web import UNIT, fill_clear, make_users, print_sheets, save_pdf

pytestmark = pytest.mark.browser

LIBRARY_WORDS = re.compile(r"PDFium|Failed to|Error\b|Errno|Traceback")


def test_batch_page_keeps_its_facts_in_the_page_language(server, home, page):
    make_users({"staff": ("staff", UNIT)})
    _, pages = print_sheets(home, 2, by="staff", name="upload-sheets.pdf")
    for p in pages:
        fill_clear(p, result="5")
    good = save_pdf(pages, home / "hom-phieu.pdf")
    broken = home / "hong.pdf"
    broken.write_bytes(b"%PDF-1.4\n" + b"garbage" * 200)
    notes = home / "ghi-chu.txt"
    notes.write_text("không phải bản quét")
    empty = home / "rong.png"
    empty.write_bytes(b"")

    log_in(page, server, "staff")
    page.goto(f"{server}/upload/")
    page.set_input_files("#files", [str(good), str(broken), str(notes), str(empty)])
    # the server's answer to the upload is held until the transfer's progress has been seen: on
    # loopback a few small files are sent and answered before a check could look
    held: list = []
    page.route("**/upload/**", lambda r: held.append(r) if r.request.method == "POST" else r.continue_())
    page.click("#upload-button")
    expect(page.locator("#transfer")).to_be_visible()  # the transfer's own progress
    for _ in range(200):  # the request reaches the route within 10 s
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the upload was never sent"
    # the batch page reloads (and its one-time message goes) as soon as a poll finds the reading
    # done, which for two pages can be before a check on a loaded machine looks: polls are held too
    polls: list = []
    page.route("**/upload/api/**", lambda r: polls.append(r))
    held[0].continue_()
    page.unroute("**/upload/**")
    expect(page.locator("#batch")).to_be_visible(timeout=30_000)
    expect(page.locator(".flash-ok")).to_contain_text("Đã nhận 2 tệp")
    shot(page, "upload-batch-reading")
    for r in polls:
        r.continue_()
    page.unroute("**/upload/api/**")
    expect(page.locator("#page-results")).to_be_visible(timeout=60_000)  # the page reloads when reading ends
    page.reload()
    rejected = page.locator("#rejected")
    expect(rejected).to_contain_text("ghi-chu.txt")
    expect(rejected).to_contain_text("Không phải loại tệp đọc được")
    expect(rejected).to_contain_text("rong.png")
    expect(rejected).to_contain_text("Tệp rỗng")
    files = page.locator("#file-results tbody tr")
    expect(files).to_have_count(2)
    expect(page.locator("#file-results")).to_contain_text("hom-phieu.pdf")
    expect(page.locator("#page-results tbody tr")).to_have_count(3)
    error = page.locator("#page-results tr.row-error .error")
    expect(error).to_have_text(re.compile(r"^PDF hỏng"))
    body = page.locator("main").inner_text()
    assert not LIBRARY_WORDS.search(body), body
    shot(page, "upload-batch-done")

    page.click("button:has-text('English')")
    expect(page.locator("#rejected")).to_contain_text("Not a file type that can be read")
    expect(page.locator("#page-results tr.row-error .error")).to_have_text(re.compile(r"^Broken PDF"))
    body = page.locator("main").inner_text()
    assert not LIBRARY_WORDS.search(body), body
    assert not re.search(r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", body.split("\n", 2)[-1]), body
    shot(page, "upload-batch-english")
    page.click("button:has-text('Tiếng Việt')")
    assert not page.errors, page.errors
