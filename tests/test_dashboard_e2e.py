"""The dashboard end to end: Debian's chromium, driven by Playwright, against a real
congress-server (docs/dashboard.md, ADR 0011).

The browser is the system's (``scripts/services chromium`` installs it; Playwright cannot
download its own here), started headless with the flags the issue names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from browser import laptop_page, launched
from test_server import _call, _free_port, _start, _stop

SERVERS = "/v1/data-sources/nova/tables/servers/rows"


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
    with launched() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with laptop_page(browser) as p:
        yield p


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


def test_the_overview_draws_counts_over_time(base: str, page: Page) -> None:
    assert _call(base, "PUT", SERVERS, [["c1", "ACTIVE"]])[0] == 200
    page.goto(base + "/dashboard/")
    chart = page.locator('tr[data-policy="live"] td[data-chart="error"] svg')
    expect(chart).to_have_attribute("aria-label", re.compile(r"^error rows over the last day: "))
    expect(chart).to_have_attribute("aria-label", re.compile(r", 0 now$"))
    assert _call(base, "PUT", SERVERS, [["c1", "ERROR"], ["c2", "ERROR"]])[0] == 200
    # the live count moves the chart's last point
    expect(chart).to_have_attribute("aria-label", re.compile(r"2 at most, 2 now$"), timeout=10_000)
    assert chart.locator("polyline").get_attribute("points")
    page.get_by_label("Time range").select_option("1h")
    assert page.evaluate("location.hash") == "#/?range=1h"
    expect(chart).to_have_attribute("aria-label", re.compile(r"^error rows over the last hour: "))
    assert _call(base, "PUT", SERVERS, [])[0] == 200


def test_a_datasource_is_made_from_its_drivers_form_and_takes_pushed_rows(
    base: str, page: Page
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/dashboard/#/datasources")
    page.get_by_role("link", name="New datasource").click()
    page.get_by_label("Driver").select_option("nova")  # a form of the driver's own options
    expect(page.get_by_label("password (required)")).to_have_attribute("type", "password")
    expect(page.get_by_label("auth_url (required)")).to_be_visible()
    page.get_by_label("Driver").select_option("push")
    expect(page.get_by_label("tables (required)")).to_be_visible()
    page.get_by_label("Name (required)", exact=True).fill("inv")
    page.get_by_label("tables (required)").fill('{"hosts": ["name", "zone"]}')
    page.get_by_role("button", name="Create datasource").click()
    expect(page.get_by_role("heading", name="Datasource inv")).to_be_visible()
    schema = page.get_by_role("table", name="Schema")
    expect(schema.locator('tr[data-table="hosts"]')).to_contain_text("name, zone")
    schema.get_by_role("link", name="hosts").click()
    expect(page.get_by_role("status").first).to_have_text("No rows")
    rows = page.get_by_label("Rows as JSON")
    push = page.get_by_role("button", name="Replace the rows")
    rows.fill('[["h1", "az1"], ["h2"')
    push.click()
    expect(page.locator("main .error")).to_contain_text("Not JSON")
    rows.fill('[["h1", "az1"], ["h2"]]')
    push.click()
    expect(page.locator("main .error")).to_contain_text("row 2 (index 1) has 1 values")
    rows.fill('[["h1", "az1"], {"name": "h2", "zone": "az2"}]')
    push.click()
    expect(page.get_by_role("status").first).to_have_text("Rows 1-2 of 2")
    table = page.get_by_role("table", name="Rows of hosts")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("thead th")).to_have_text(["name", "zone"])
    status, body = _call(base, "GET", "/v1/data-sources/inv/tables/hosts/rows")
    assert status == 200 and body["results"] == [{"data": ["h1", "az1"]}, {"data": ["h2", "az2"]}]
    page.goto(base + "/dashboard/#/datasources")
    page.get_by_role("button", name="Delete inv").click()
    expect(page.locator('tr[data-datasource="inv"]')).to_have_count(0)
    assert _call(base, "GET", "/v1/data-sources/inv")[0] == 404


def test_a_failing_datasource_shows_its_last_error(base: str, page: Page) -> None:
    tables = {"items": {"path": "/items", "columns": {"id": "id"}}}
    config = {"endpoint": "http://127.0.0.1:9", "tables": json.dumps(tables), "poll_time": "1"}
    body = {"name": "down", "driver": "json", "config": config}
    assert _call(base, "POST", "/v1/data-sources", body)[0] == 201
    try:
        page.goto(base + "/dashboard/#/datasources")
        row = page.locator('tr[data-datasource="down"]')
        expect(row).to_contain_text("json")
        for _ in range(20):  # its first poll fails within a second or two
            if "127.0.0.1:9" in (row.locator("td").nth(4).text_content() or ""):
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(row.locator("td").nth(4)).to_contain_text("127.0.0.1:9")
        expect(row.locator("td").nth(4)).to_have_class("bad")
        row.get_by_role("link", name="down").click()
        expect(page.get_by_role("heading", name="Datasource down")).to_be_visible()
        expect(page.locator("dl.facts").nth(1)).to_contain_text("127.0.0.1:9")
        expect(page.get_by_text("This driver has no actions.")).to_be_visible()
    finally:
        _call(base, "DELETE", "/v1/data-sources/down")


def test_every_count_of_the_overview_follows_changes(base: str, page: Page) -> None:
    """More tables than the feeds a browser can hold open: the rest are asked for."""
    for name in ("p1", "p2", "p3"):
        rules = [
            {"rule": f'error(vm) :- nova:servers(vm, "{name.upper()}")'},
            {"rule": f'warning(vm) :- nova:servers(vm, "{name.upper()}")'},
        ]
        status, body = _call(base, "POST", "/v1/policies", {"name": name, "rules": rules})
        assert status == 201, body
    page.goto(base + "/dashboard/")
    cells = {
        (name, table): page.locator(f'tr[data-policy="{name}"] td[data-table="{table}"]')
        for name in ("p1", "p2", "p3")
        for table in ("error", "warning")
    }
    for cell in cells.values():
        expect(cell).to_have_text("0")
    rows = [["a", "P1"], ["b", "P2"], ["c", "P3"], ["d", "P3"]]
    assert _call(base, "PUT", SERVERS, rows)[0] == 200
    for (name, _), cell in cells.items():
        expect(cell).to_have_text("2" if name == "p3" else "1", timeout=15_000)
    assert _call(base, "PUT", SERVERS, [])[0] == 200
    for cell in cells.values():
        expect(cell).to_have_text("0", timeout=15_000)
    for name in ("p1", "p2", "p3"):
        assert _call(base, "DELETE", f"/v1/policies/{name}")[0] == 200


def test_a_policy_is_rolled_back_to_an_earlier_version(base: str, page: Page) -> None:
    body = {"name": "versioned", "rules": [{"rule": "r(1)"}]}
    assert _call(base, "POST", "/v1/policies", body)[0] == 201
    assert _call(base, "POST", "/v1/policies/versioned/rules", {"rule": "r(2)"})[0] == 201
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/dashboard/#/policies/versioned")
    versions = page.get_by_role("table", name="Versions")
    expect(versions.locator("tbody tr")).to_have_count(2)
    expect(versions.locator('tr[data-version="2"]')).to_contain_text("rule added")
    expect(versions.locator('tr[data-version="1"]')).to_contain_text("policy created")
    expect(versions.locator('tr[data-version="2"] button')).to_have_count(0)  # the current one
    versions.get_by_role("button", name="Roll back to 1").click()
    expect(page.locator("ul.rules code")).to_have_text(["r(1)"])
    expect(versions.locator('tr[data-version="3"]')).to_contain_text("rollback to 1")
    status, rules = _call(base, "GET", "/v1/policies/versioned/rules")
    assert status == 200 and [r["rule"] for r in rules["results"]] == ["r(1)"]
    assert _call(base, "DELETE", "/v1/policies/versioned")[0] == 200
