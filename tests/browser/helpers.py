"""What the dashboard's browser tests share: Chromium's settings, the record of what a page did,
screenshots at desktop and phone width, and answering the token dialog."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Chromium without its own network chatter (updates, safe browsing, sync, QUIC probes).
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "browser-token-0123456789"
ENV = {
    "NNS_ADMIN_TOKEN": TOKEN,
    "NNS_RELOAD_INTERVAL": "0.2",
    "NNS_MAX_EPOCHS": "2000",
    "NNS_JOB_HEARTBEAT": "0.5",
}
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
# Chromium logs a console error for every fetch answered 4xx; the tests that provoke one say so.
RESOURCE = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


@dataclass
class Seen:
    """What the page did: the tests' evidence."""

    base: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def unexpected_console(self, allowed: set[int] = frozenset()) -> list[str]:
        """Return console errors other than resource failures with an allowed status."""
        return [
            m for m in self.console
            if not ((found := RESOURCE.search(m)) and int(found.group(1)) in allowed)
        ]  # fmt: skip


def shoot(page, shots: Path, name: str) -> None:
    """Save the page at desktop and at phone width."""
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(shots / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / f"{name}-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width} px wide at phone width"
    page.set_viewport_size(DESKTOP)
    assert_labelled(page)


def give_token(page, token: str = TOKEN) -> None:
    """Answer the dashboard's token dialog from the keyboard: type it, press Enter."""
    page.locator("#token-dialog").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "token-input"  # focus is there
    page.keyboard.type(token)
    page.keyboard.press("Enter")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.offsetParent !== null || e.closest('dialog'))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML.slice(0, 80))"""


def assert_labelled(page) -> None:
    """Every control a person can reach has a label (or, for a button, its text)."""
    assert page.evaluate(UNLABELLED) == []
