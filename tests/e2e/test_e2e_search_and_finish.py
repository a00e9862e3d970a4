"""In a real browser: the search in every page's header finds an account's transactions and opens its items; the
queue at 1,024 px shows every row's actions; a missing page is the styled 404 with DEBUG off, as under `make run`."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from review.services import review_claim
from tests.conftest import stop_process
from tests.e2e.conftest import (
    ARTIFACTS,
    SERVER_START_SECONDS,
    _free_port,
    _server_env,
    _wait_until_up,
    in_thread,
    log_in,
    screenshot,
    wait_live,
)
from tests.e2e.seed import CASES, flag_new_transaction, seed_queue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ACCOUNT = CASES[0][0]  # seed_queue gives it a flagged transaction and 24 earlier ones


def test_search_by_account_finds_its_transactions_and_opens_its_items(new_page, analyst):
    in_thread(seed_queue)
    second = in_thread(flag_new_transaction, account_id=ACCOUNT)
    page = new_page()
    log_in(page, "alice")
    page.fill("#topsearch-q", ACCOUNT)
    page.press("#topsearch-q", "Enter")
    page.wait_for_url(f"**/search/?q={ACCOUNT}")
    rows = page.locator("#search-results tr.result-row")
    expect(rows).to_have_count(26)  # 24 earlier, the seeded flagged one and the new one: every stored one
    expect(page.locator("#search-results .status-open")).to_have_count(2)
    expect(rows.first).to_contain_text("matched: account")
    screenshot(page, "search-by-account")

    page.locator(f"#result-{second.transaction_id}").get_by_role("link", name="Open item").click()
    page.wait_for_url(f"**/review/transactions/{second.transaction_id}/")
    expect(page.locator(".tx-status .status-open")).to_be_visible()
    page.go_back()

    rows.first.get_by_role("link", name="Account's items").click()
    page.wait_for_url(f"**/review/?account={ACCOUNT}&status=all")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(2)
    expect(page.locator("#id_account")).to_have_value(ACCOUNT)
    screenshot(page, "search-account-items")


def test_the_queue_at_1024_px_shows_every_rows_actions(new_page, analyst):
    items = in_thread(seed_queue)
    in_thread(review_claim, item=items[0], user=analyst)  # a claimed row has the most actions: Fraud, Legit, Release
    page = new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    log_in(page, "alice")
    wait_live(page)
    rows = page.locator("#queue-rows tr.queue-row")
    expect(rows).to_have_count(6)
    expect(rows.first.get_by_role("button", name="Release")).to_be_visible()
    for i in range(rows.count()):
        for control in rows.nth(i).locator("td.actions a, td.actions button").all():
            box = control.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024, (i, control.inner_text())
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # nothing off to the right either
    screenshot(page, "queue-1024")


@pytest.fixture(scope="module")
def make_run_server(django_db_setup):
    """daphne as `make run` serves it: DEBUG off, plain HTTP (the shared `asgi_server` runs with DEBUG on)."""
    port = _free_port()
    env = _server_env(port) | {"DEBUG": "0", "PLAIN_HTTP": "1", "SECRET_KEY": "e2e-" + "k" * 60}
    log_path = ARTIFACTS / f"daphne-nodebug-{port}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("daphne")),
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "anomaly_site.asgi:application",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/accounts/login/", process, log_path, time.monotonic() + SERVER_START_SECONDS)
        yield base
    finally:
        stop_process(process, timeout=10)


def test_a_missing_page_is_the_styled_404_with_debug_off(browser, make_run_server, analyst):
    context = browser.new_context(base_url=make_run_server, viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        log_in(page, "alice")
        response = page.goto("/review/transactions/999999/")
        assert response.status == 404
        expect(page.get_by_role("heading", name="There is nothing here")).to_be_visible()
        expect(page.locator("header.topbar #topsearch-q")).to_be_visible()  # the site's own frame, not a debug page
        assert "Django tried these URL patterns" not in page.content()
        expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/static/favicon.svg")
        assert page.request.get("/static/favicon.svg").ok
        screenshot(page, "styled-404")
    finally:
        context.close()
