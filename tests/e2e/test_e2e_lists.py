"""Lists in a browser: an admin creates a list, adds an entry, uploads a CSV (a bad row named by row and field, the
others kept) and searches the entries (an htmx partial)."""

import pytest
from playwright.sync_api import expect

from rules.models import ListEntry, ValueList
from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UPLOAD = "value,expires_at,note\nM-RING-1,2099-01-31,seen in a ring\nM-RING-2,next week,\nM-RING-3,,\nM-OTHER,,\n"


def test_an_admin_creates_a_list_adds_uploads_and_searches(new_page, admin_user, tmp_path):
    page = new_page()
    log_in(page, admin_user.username, "/review/")
    page.get_by_role("navigation").get_by_role("link", name="Lists").click()
    page.wait_for_url("**/rules/lists/")
    page.get_by_role("link", name="New list").click()
    page.fill("#id_name", "blocked_merchants")
    page.select_option("#id_kind", "merchant")
    page.fill("#id_description", "Merchants we never pay")
    page.get_by_role("button", name="Create list").click()
    page.wait_for_url("**/rules/lists/blocked_merchants/")

    page.fill("#id_values", "M-FRAUD-1")
    page.fill("#id_note", "chargebacks")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("1 added")
    expect(page.locator('tr[data-value="M-FRAUD-1"]')).to_contain_text("chargebacks")

    path = tmp_path / "merchants.csv"
    path.write_text(UPLOAD)
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text("merchants.csv: 3 added, 0 updated, 0 unchanged; 1 row refused")
    expect(page.locator(".messages")).to_contain_text("row 3, expires_at: 'next week' is not a date or time")
    expect(page.locator("#entries-rows tr")).to_have_count(4)
    screenshot(page, "lists-detail")

    page.fill("#id_search", "ring")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#entries-rows tr")).to_have_count(2)
    page.wait_for_url("**/rules/lists/blocked_merchants/?search=ring")  # pushed by htmx, as a link would
    expect(page.locator("#entries-table")).to_contain_text("matching “ring”")
    screenshot(page, "lists-search")

    page.goto("/rules/lists/")
    expect(page.locator('tr[data-list="blocked_merchants"]')).to_contain_text("4")
    screenshot(page, "lists-index")

    value_list = ValueList.objects.get(name="blocked_merchants")
    assert value_list.revision == 3  # created, one entry added, a file uploaded
    assert sorted(ListEntry.objects.filter(value_list=value_list).values_list("value", flat=True)) == [
        "M-FRAUD-1",
        "M-OTHER",
        "M-RING-1",
        "M-RING-3",
    ]
