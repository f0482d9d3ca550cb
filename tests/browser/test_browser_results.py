"""The results page reads well: values on the chart's bars, a period picker (month / quarter / year),
a table of contents that jumps to a question, comment captions naming the question and the sheet."""

from __future__ import annotations

import re

import cv2
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.test_browser_flow import log_in
from tests.support.web import FORM, UNIT, fill_clear, make_users, print_sheets, px, save_pdf, scan

pytestmark = pytest.mark.browser


def write_comment(img, field_id: str) -> None:
    """A few handwritten-looking strokes in a free-text area."""
    from omr.sheet.layout import layout_for

    a = layout_for(FORM).placement(field_id).area
    for i in range(3):
        y = px(a.y + 4 + i * 4)
        cv2.line(img, (px(a.x + 5), y), (px(a.x + 60 + i * 10), y + px(1)), 0, 3)


def test_results_page(server, home, page):
    make_users({"admin": ("admin", UNIT)})
    _, pages = print_sheets(home, 3, name="results.pdf")
    for n, p in enumerate(pages):
        fill_clear(p, result="5" if n else "2")
    write_comment(pages[0], "y_kien_chua_hai_long")
    write_comment(pages[2], "y_kien_khac")
    scan([save_pdf(pages, home / "results-stack.pdf")])
    log_in(page, server, "admin")

    # one vocabulary: the start page and the results count the same sheets with the same words
    page.goto(f"{server}/")
    expect(page.locator("#received")).to_have_text("3")
    expect(page.locator("#received + span")).to_have_text("phiếu đã nhận")
    expect(page.locator("#waiting + span")).to_have_text("câu chờ duyệt")
    page.goto(f"{server}/results/")
    expect(page.locator("#result-responses")).to_have_text("3")
    expect(page.locator("#result-responses + span")).to_have_text("phiếu đã nhận")
    expect(page.locator("#result-waiting + span")).to_have_text("câu chờ duyệt")
    expect(page.locator("#result-waiting")).to_have_text("0")  # three clear sheets: nothing waits

    # the chart's bars carry their values
    values = page.locator("svg.trend text.bar-value")
    expect(values).to_have_count(1)
    index = page.locator("#result-index").inner_text()  # "66,7 %"
    assert values.first.text_content() == str(round(float(index.split()[0].replace(",", "."))))

    # the period: picked, not typed
    picker = page.locator("select#period")
    assert [g.get_attribute("label") for g in picker.locator("optgroup").all()] == ["Tháng", "Quý", "Năm"]
    assert page.locator("input[name=period]").count() == 0

    # a table of contents that jumps to each question
    toc = page.locator("#toc a[href^='#q-']")
    n_questions = page.locator(".question").count()
    expect(toc).to_have_count(n_questions)
    page.locator("#toc a[href$='-q_result']").click()  # a question with a page of results below it
    assert page.url.endswith("#q-kien-hung-2020-q_result")
    top = page.locator("#q-kien-hung-2020-q_result").bounding_box()["y"]
    assert page.evaluate("window.scrollY") > 0 and -2 <= top < 60, top  # scrolled to the question

    # comment captions: the question's short label and the sheet
    captions = page.locator(".comments figcaption")
    expect(captions).to_have_count(2)
    for text in captions.all_inner_texts():
        assert re.fullmatch(r"[^:·]+ · Phiếu \d{6} · \d\d/\d\d/\d{4}", text), text
    expect(
        captions.filter(has_text="Nếu có điều chưa hài lòng về kết quả giải quyết và sự phục vụ · Phiếu")
    ).to_have_count(1)
    page.goto(f"{server}/results/")
    shot(page, "results")

    # a quarter, then a year, from the picker
    quarter = picker.locator("optgroup[label='Quý'] option").first.get_attribute("value")
    picker.select_option(quarter)
    expect(page).to_have_url(re.compile(rf"period={quarter}"))
    expect(page.locator("select#period")).to_have_value(quarter)
    assert re.search(r"Q\d/\d{4}", page.locator(".tile.index").inner_text())
    assert not page.errors, page.errors
