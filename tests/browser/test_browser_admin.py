"""Defaults that prevent mistakes and administration pages a ward's staff can read, in Chromium:
the unit's usual form first on the print page, Người xem for a new user, a unit list that never
covers the password field, a readable audit log with filters, renaming and retiring a unit."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.test_browser_flow import log_in
from tests.support.web import UNIT, make_users

pytestmark = pytest.mark.browser

LONG_NAME = "Trung tâm Phục vụ hành chính công phường Kiến Hưng, chi nhánh Văn phòng đăng ký đất đai số 2"


def overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_defaults_and_admin_pages(server, home, page):
    make_users({"admin": ("admin", UNIT)})
    log_in(page, server, "admin")

    # a service point with a long name, whose usual form is the land-registry one
    page.goto(f"{server}/admin/units")
    form = page.locator("#new-unit")
    form.locator("input[name=code]").fill("KH-DATDAI")
    form.locator("input[name=name]").fill(LONG_NAME)
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash-ok")).to_contain_text("KH-DATDAI")
    row = page.locator("#units tr[data-unit='KH-DATDAI']")
    row.locator("select[name=usual_form]").select_option("hn-dat-dai")
    row.locator("form.unit-settings button[type=submit]").click()
    own = page.locator(f"form.unit-settings[data-unit='{UNIT}']")
    own.locator("select[name=usual_form]").select_option("kien-hung-2020")
    own.locator("button[type=submit]").click()
    expect(page.locator(".flash-ok")).to_be_visible()
    shot(page, "admin-units")

    # the print page: the unit's usual form first and chosen, and it follows the unit picked
    page.goto(f"{server}/print/")
    expect(page.locator("#form option").first).to_have_attribute("value", "kien-hung-2020")
    expect(page.locator("#form")).to_have_value("kien-hung-2020")
    page.select_option("#unit", "KH-DATDAI")
    expect(page.locator("#form")).to_have_value("hn-dat-dai")
    expect(page.locator("#form option").first).to_have_attribute("value", "hn-dat-dai")
    shot(page, "print-usual-form")

    # a new user: Người xem unless chosen otherwise; the unit list clear of the password field
    page.goto(f"{server}/admin/users")
    expect(page.locator("#new-role option:checked")).to_have_text("Người xem")
    unit_box = page.locator("#new-unit-code").bounding_box()
    for name in ("password", "password2", "username"):
        other = page.locator(f"#new-user input[name={name}]").bounding_box()
        assert not overlap(unit_box, other), f"the unit list covers the {name} field"
    shot(page, "admin-new-user")
    new = page.locator("#new-user")
    new.locator("input[name=username]").fill("xem1")
    new.locator("select[name=unit]").select_option("KH-DATDAI")
    new.locator("input[name=password]").fill("mat-khau-xem-1")
    new.locator("input[name=password2]").fill("mat-khau-xem-1")
    new.locator("button[type=submit]").click()
    expect(page.locator(".flash-ok")).to_contain_text("xem1")

    # rename it: every picker says the new name
    page.goto(f"{server}/admin/units")
    row = page.locator("#units tr[data-unit='KH-DATDAI']")
    row.locator("input[name=name]").fill("Chi nhánh đăng ký đất đai Kiến Hưng")
    row.locator("form.unit-settings button[type=submit]").click()
    expect(page.locator(".flash-ok")).to_contain_text("KH-DATDAI")
    page.goto(f"{server}/print/")
    expect(page.locator("#unit option[value='KH-DATDAI']")).to_have_text(
        "Chi nhánh đăng ký đất đai Kiến Hưng (KH-DATDAI)"
    )

    # retire the service point: gone from the pickers, its history kept
    page.goto(f"{server}/admin/units")
    page.locator("#units tr[data-unit='KH-DATDAI'] button[value=retire]").click()
    expect(page.locator("#units tr[data-unit='KH-DATDAI']")).to_contain_text("đã ngừng sử dụng")
    page.goto(f"{server}/print/")
    expect(page.locator("#unit option[value='KH-DATDAI']")).to_have_count(0)

    # the audit log: words and old → new values, filters
    page.goto(f"{server}/admin/audit")
    audit = page.locator("#audit")
    expect(audit).to_contain_text("Tạo người dùng")
    expect(audit).to_contain_text("Sửa đơn vị")
    expect(audit).to_contain_text("Ngừng sử dụng: không → có")
    expect(audit).to_contain_text("Mẫu thường dùng: — → hn-dat-dai")
    assert "{" not in audit.inner_text()
    shot(page, "admin-audit")
    page.select_option("#audit-filters select[name=what]", "user.add")
    page.click("#audit-filters button[type=submit]")
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    expect(page.locator("#audit")).to_contain_text("xem1")
    assert not page.errors, page.errors
