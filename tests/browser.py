"""Debian's chromium driven by Playwright, as the dashboard's end-to-end tests use it: the
system's browser (``scripts/services chromium`` installs it; Playwright cannot download its
own here), headless, with the flags of issue 9."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is installed by scripts/services chromium (scripts/run-tests)"
    return found


@contextmanager
def launched() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def laptop_page(browser: Browser) -> Iterator[Page]:
    """A page on a laptop-sized screen; no uncaught error in its scripts by the end."""
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    p = context.new_page()
    problems: list[str] = []
    p.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        yield p
        assert problems == [], problems
    finally:
        context.close()
