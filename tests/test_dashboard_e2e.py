"""The dashboard end to end: Debian's chromium, driven by Playwright, against a real
congress-server (docs/dashboard.md, ADR 0011).

The browser is the system's (``scripts/services chromium`` installs it; Playwright cannot
download its own here), started headless with the flags the issue names.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from test_server import _call, _free_port, _start, _stop

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
SERVERS = "/v1/data-sources/nova/tables/servers/rows"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is installed by scripts/services chromium (scripts/run-tests)"
    return found


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    proc = _start(
        tmp, port, "[watch]\nfeed_keepalive_seconds = 1\n[enforcement]\nbreaker_max_actions = 2\n"
    )
    url = f"http://127.0.0.1:{port}"
    tables = json.dumps({"servers": ["id", "status"]})
    status, body = _call(
        url,
        "POST",
        "/v1/data-sources",
        {"name": "nova", "driver": "push", "config": {"tables": tables}},
    )
    assert status == 201, body
    rule = 'error(vm) :- nova:servers(vm, "ERROR")'
    status, body = _call(url, "POST", "/v1/policies", {"name": "live", "rules": [{"rule": rule}]})
    assert status == 201, body
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    p = context.new_page()
    problems: list[str] = []
    p.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        yield p
        assert problems == [], problems  # no uncaught error in the page's scripts
    finally:
        context.close()


def test_a_violation_appears_live_on_the_overview(base: str, page: Page) -> None:
    page.goto(base + "/dashboard/")
    errors = page.locator('tr[data-policy="live"] td[data-table="error"]')
    expect(errors).to_have_text("0")
    expect(page.locator('nav a[data-section="overview"]')).to_have_attribute("aria-current", "page")
    status, _ = _call(base, "PUT", SERVERS, [["vm1", "ERROR"], ["vm2", "ACTIVE"]])
    assert status == 200
    expect(errors).to_have_text("1", timeout=10_000)  # through the change feed, no reload
    expect(errors).to_have_class("num bad")
    status, _ = _call(base, "PUT", SERVERS, [["vm1", "ACTIVE"], ["vm2", "ACTIVE"]])
    assert status == 200
    expect(errors).to_have_text("0", timeout=10_000)


def test_create_a_policy_and_see_a_syntax_error_marked(base: str, page: Page) -> None:
    page.goto(base + "/dashboard/#/policies")
    page.get_by_label("Name").fill("drafts")
    page.get_by_role("button", name="Create policy").click()
    link = page.locator('tr[data-policy="drafts"] a')
    expect(link).to_have_text("drafts")
    link.click()
    expect(page.get_by_role("heading", name="Policy drafts")).to_be_visible()
    editor = page.get_by_label("Rule")
    editor.fill("p(x) :- q(x")
    problem = page.locator("#rule-check .error")
    expect(problem).to_contain_text("line 1, column 12")
    expect(problem).to_have_attribute("data-column", "12")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#rule-check pre.marked")).to_contain_text("1 | p(x) :- q(x")
    editor.fill("p(x) :- q(x)")
    expect(page.locator("#rule-check .ok")).to_contain_text("OK")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("ul.rules code")).to_have_text(["p(x) :- q(x)"])
    status, body = _call(base, "GET", "/v1/policies/drafts/rules")
    assert status == 200
    assert [r["rule"] for r in body["results"]] == ["p(x) :- q(x)"]


def test_the_pages_work_from_the_keyboard(base: str, page: Page) -> None:
    page.goto(base + "/dashboard/")
    expect(page.get_by_role("heading", name="Violations")).to_be_visible()
    page.keyboard.press("Tab")  # the skip link first
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator('nav a[data-section="policies"]')).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Policies")).to_be_visible()


def test_a_violation_is_explained_from_its_table(base: str, page: Page) -> None:
    status, _ = _call(base, "PUT", SERVERS, [["vm7", "ERROR"], ["vm8", "ACTIVE"]])
    assert status == 200
    page.goto(base + "/dashboard/#/policies/live")
    page.get_by_role("link", name="error").click()
    rows = page.get_by_role("table", name="Rows of error")
    expect(rows.locator("tr")).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text("Rows 1-1 of 1")
    rows.get_by_role("button", name="Why?").click()
    proof = page.locator("ul.proof")
    expect(proof.locator('li[data-kind="rule"] > span').first).to_have_text('live:error("vm7")')
    expect(proof.locator('li[data-kind="data"]')).to_have_text(
        'nova:servers("vm7", "ERROR") [data]'
    )


def test_a_big_table_is_paged_and_filtered_by_the_server(base: str, page: Page) -> None:
    many = [[f"vm{i:05d}", "ERROR" if i % 1000 == 0 else "ACTIVE"] for i in range(5000)]
    status, _ = _call(base, "PUT", SERVERS, many)
    assert status == 200
    _call(
        base,
        "POST",
        "/v1/policies",
        {"name": "all", "rules": [{"rule": "s(x, y) :- nova:servers(x, y)"}]},
    )
    page.goto(base + "/dashboard/#/policies/all/tables/s")
    expect(page.get_by_role("status")).to_have_text("Rows 1-100 of 5000")
    table = page.get_by_role("table", name="Rows of s")
    expect(table.locator("tr")).to_have_count(100)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("status")).to_have_text("Rows 101-200 of 5000")
    expect(table.locator("tr").first.locator("td").first).to_have_text("vm00100")
    page.get_by_label("Filter rows").fill("error")
    expect(page.get_by_role("status")).to_have_text("Rows 1-5 of 5")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()


def test_a_library_policy_is_activated(base: str, page: Page) -> None:
    lib = {
        "name": "ErrorServers",
        "description": "Every server in ERROR state is an error.",
        "rules": [
            {"rule": 'error(vm, "in ERROR") :- nova:servers(vm, "ERROR")'},
            {"rule": 'warning(vm, "not ACTIVE") :- nova:servers(vm, s), not active(s)'},
            {"rule": 'active("ACTIVE")'},
        ],
    }
    status, body = _call(base, "POST", "/v1/librarypolicies", lib)
    assert status == 201, body
    page.goto(base + "/dashboard/#/library")
    row = page.locator('tr[data-library="ErrorServers"]')
    expect(row).to_contain_text("Every server in ERROR state")
    row.get_by_role("button", name="Activate ErrorServers").click()
    expect(page.get_by_role("heading", name="Policy ErrorServers")).to_be_visible()
    expect(page.locator("ul.rules code")).to_have_count(3)
    status, body = _call(base, "GET", "/v1/policies/ErrorServers/rules")
    assert status == 200 and len(body["results"]) == 3
    page.goto(base + "/dashboard/#/library")
    expect(page.locator('tr[data-library="ErrorServers"] a')).to_have_text("Active")
    page.goto(base + "/dashboard/")  # the activated policy is watched like any other
    expect(page.locator('tr[data-policy="ErrorServers"] td[data-table="error"]')).to_be_visible()


def test_a_library_policy_that_does_not_fit_shows_why(base: str, page: Page) -> None:
    """The test's nova is a push datasource with other columns than Nova's: the engine refuses
    BadFlavors' rules, and the page says so."""
    page.goto(base + "/dashboard/#/library")
    page.get_by_role("button", name="Activate BadFlavors").click()
    expect(page.locator("main .error")).to_contain_text("column name name does not exist")
    status, _ = _call(base, "GET", "/v1/policies/BadFlavors")
    assert status == 404


def test_the_execution_log_and_a_tripped_breaker(base: str, page: Page) -> None:
    rule = 'execute[nova:pause(x)] :- nova:servers(x, "DOWN")'
    status, _ = _call(base, "POST", "/v1/policies", {"name": "fixer", "rules": [{"rule": rule}]})
    assert status == 201
    down = [["d1", "DOWN"], ["d2", "DOWN"], ["d3", "DOWN"]]
    assert _call(base, "PUT", SERVERS, down)[0] == 200
    page.goto(base + "/dashboard/#/actions")
    breaker = page.locator('tr[data-breaker="fixer"]')
    expect(breaker.locator("td").nth(1)).to_have_text("open")
    expect(breaker).to_contain_text("more than 2 nova actions within 60 s")
    log = page.get_by_role("table", name="Executions")
    expect(log.locator('tr[data-status="blocked_by_breaker"]')).to_have_count(1)
    expect(log.locator("tbody tr")).to_have_count(3)
    page.get_by_label("Status").select_option("blocked_by_breaker")
    page.get_by_role("button", name="Show").click()
    expect(log.locator("tbody tr")).to_have_count(1)
    breaker.get_by_role("button", name="Reset fixer").click()
    expect(page.locator('tr[data-breaker="fixer"] td').nth(1)).to_have_text("closed")
    status, body = _call(base, "GET", "/v1/policies/fixer/breaker")
    assert status == 200 and body["state"] == "closed"
