"""The dashboard in a browser against a Congress node behind a real Keystone: it asks for a
Keystone user and password, refuses wrong ones with Keystone's one message, then works with the
token it obtained (and the user's roles: a reader cannot create a policy), signs out, and asks
again when the token stops working.

Debian's chromium through Playwright, as tests/test_dashboard_e2e.py drives it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from real_keystone import CongressNode, Keystone

from browser import laptop_page, launched

pytestmark = [pytest.mark.xdist_group("keystone"), pytest.mark.usefixtures("out_of_the_catalog")]

REFUSED = "The user name, password or project is not right"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with laptop_page(browser) as p:
        yield p


def sign_in(page: Page, user: str, password: str, project: str) -> None:
    page.get_by_label("User").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Project").fill(project)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_work_and_sign_out(congress: CongressNode, keystone: Keystone, page: Page) -> None:
    reader = keystone.users["reader"]
    page.goto(congress.url + "/dashboard/#/policies")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Domain")).to_have_value("Default")
    sign_in(page, reader.name, "not-the-password", reader.project)
    expect(page.get_by_role("alert")).to_have_text(REFUSED)
    assert page.evaluate("sessionStorage.getItem('congress.token')") is None
    sign_in(page, reader.name, reader.password, reader.project)
    # the page asked for comes up, with the token: the system policies are listed
    expect(page.get_by_role("heading", name="Policies")).to_be_visible()
    expect(page.locator('tr[data-policy="classification"]')).to_be_visible()
    expect(page.locator("#who")).to_contain_text(f"{reader.name} · {reader.project}")
    token = page.evaluate("sessionStorage.getItem('congress.token')")
    assert token
    # the reader's role holds on every call: creating a policy is refused, and says so
    page.get_by_label("Name").fill("mine")
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator("main .error")).to_be_visible()
    expect(page.locator('tr[data-policy="mine"]')).to_have_count(0)
    page.get_by_role("link", name="Overview").click()
    expect(page.locator('tr[data-policy="classification"] td[data-table="error"]')).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('congress.token')") is None
    expect(page.locator("#who")).to_be_empty()


def test_a_member_creates_a_policy(congress: CongressNode, keystone: Keystone, page: Page) -> None:
    admin = keystone.users["admin"]
    page.goto(congress.url + "/dashboard/#/policies")
    sign_in(page, admin.name, admin.password, admin.project)
    page.get_by_label("Name").fill("signed")
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator('tr[data-policy="signed"]')).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-policy="signed"]').get_by_role("button", name="Delete").click()
    expect(page.locator('tr[data-policy="signed"]')).to_have_count(0)


def test_a_token_that_stops_working_asks_to_sign_in_again(
    congress: CongressNode, page: Page
) -> None:
    page.goto(congress.url + "/dashboard/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.evaluate(
        "sessionStorage.setItem('congress.token', 'revoked');"
        "sessionStorage.setItem('congress.user', 'someone')"
    )
    page.goto(congress.url + "/dashboard/#/library")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your session has ended")
    assert page.evaluate("sessionStorage.getItem('congress.token')") is None
