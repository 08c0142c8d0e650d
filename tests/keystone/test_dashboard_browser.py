"""The dashboard in a browser against a Congress node behind a real Keystone: it asks for a
Keystone user and password, refuses wrong ones with Keystone's one message, then works with the
token it obtained (and the user's roles: a reader cannot create a policy), signs out, and asks
again when the token stops working. Each user sees only its project's policies (docs/tenancy.md):
two members of two projects, each with a policy ``ops``, side by side.

Debian's chromium through Playwright, as tests/test_dashboard_e2e.py drives it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from real_keystone import CongressNode, Keystone, http

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


def create(congress: CongressNode, token: str, name: str, rules: list[str] = ()) -> None:  # type: ignore[assignment]
    """A policy of the token's project, with rules, through the API."""
    body = {"name": name, "rules": [{"rule": r} for r in rules]}
    status, _, answer = http("POST", congress.url + "/v1/policies", body, {"X-Auth-Token": token})
    assert status == 201, answer


def test_sign_in_work_and_sign_out(congress: CongressNode, keystone: Keystone, page: Page) -> None:
    reader = keystone.users["reader"]
    demo = "demo_" + uuid.uuid4().hex[:8]
    create(congress, keystone.token("member"), demo)  # a policy of the reader's project
    page.goto(congress.url + "/dashboard/#/policies")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Domain")).to_have_value("Default")
    sign_in(page, reader.name, "not-the-password", reader.project)
    expect(page.get_by_role("alert")).to_have_text(REFUSED)
    assert page.evaluate("sessionStorage.getItem('congress.token')") is None
    sign_in(page, reader.name, reader.password, reader.project)
    # the page asked for comes up, with the token: the project's policies are listed, not
    # the operator's
    expect(page.get_by_role("heading", name="Policies")).to_be_visible()
    expect(page.locator(f'tr[data-policy="{demo}"]')).to_be_visible()
    expect(page.locator('tr[data-policy="classification"]')).to_have_count(0)
    expect(page.locator("#who")).to_contain_text(f"{reader.name} · {reader.project}")
    token = page.evaluate("sessionStorage.getItem('congress.token')")
    assert token
    # the reader's role holds on every call: creating a policy is refused, and says so
    page.get_by_label("Name").fill("mine")
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator("main .error")).to_be_visible()
    expect(page.locator('tr[data-policy="mine"]')).to_have_count(0)
    page.get_by_role("link", name="Overview").click()
    expect(page.locator(f'tr[data-policy="{demo}"] td[data-table="error"]')).to_be_visible()
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


def test_each_user_sees_only_their_project(
    congress: CongressNode, keystone: Keystone, browser: Browser
) -> None:
    """alice (project alpha) and bob (project beta) both have a policy ``ops``; each one's
    dashboard, open side by side, shows its own and nothing of the other's."""
    tag = uuid.uuid4().hex[:8]
    ops = f"ops_{tag}"
    alice_token, bob_token = keystone.token("alice"), keystone.token("bob")
    create(congress, alice_token, ops, ['error("alice-row")'])
    create(congress, bob_token, ops, ['error("bob-row")'])
    create(congress, alice_token, f"alice_only_{tag}")
    with laptop_page(browser) as alice, laptop_page(browser) as bob:
        for page, user in ((alice, "alice"), (bob, "bob")):
            u = keystone.users[user]
            page.goto(congress.url + "/dashboard/#/policies")
            sign_in(page, u.name, u.password, u.project)
            expect(page.locator(f'tr[data-policy="{ops}"]')).to_be_visible()
        expect(alice.locator(f'tr[data-policy="alice_only_{tag}"]')).to_be_visible()
        expect(bob.locator(f'tr[data-policy="alice_only_{tag}"]')).to_have_count(0)
        expect(bob.locator('tr[data-policy="classification"]')).to_have_count(0)
        # each one's table holds its own row
        for page, mine, theirs in ((alice, "alice-row", "bob-row"), (bob, "bob-row", "alice-row")):
            page.goto(congress.url + f"/dashboard/#/policies/{ops}/tables/error")
            expect(page.get_by_text(mine)).to_be_visible()
            expect(page.get_by_text(theirs)).to_have_count(0)
        # the overview counts each one's own errors only
        bob.goto(congress.url + "/dashboard/#/")
        expect(bob.locator(f'tr[data-policy="{ops}"] td[data-table="error"]')).to_contain_text("1")
        expect(bob.locator(f'tr[data-policy="alice_only_{tag}"]')).to_have_count(0)
        text = bob.content()
        assert "alice" not in text.replace(f'"{ops}"', "")
        for page in (alice, bob):  # signing out ends the overview's change feeds
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
