"""The browser tier: pages driven in a real headless Chromium (Debian's, through Playwright's
Python package; Playwright's own browser download does not work on these machines).

``OCOP_CHROMIUM`` names the browser (default /usr/bin/chromium). Without it the tier is skipped,
unless ``OCOP_REQUIRE_BROWSER`` is set (``.ci/run`` sets it), which makes a missing browser a
failure. Screenshots go to ``var/screenshots/`` (open them: a page is not done until looked at).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from support import ROOT

# the browser tests drive the pages of the integration tier's platforms and reuse its helpers
sys.path.insert(0, str(ROOT / "tests" / "integration"))

CHROMIUM = os.environ.get("OCOP_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "var" / "screenshots"
# Without the background-networking flags Chromium keeps calling hosts this machine cannot reach.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("OCOP_REQUIRE_BROWSER"):
            pytest.fail(f"OCOP_REQUIRE_BROWSER is set but there is no browser at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set OCOP_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(params=["phone", "desktop"])
def page(browser, request):
    """A fresh page at a phone's and at a desktop's size; records script errors and dialogs."""
    size = PHONE if request.param == "phone" else DESKTOP
    context = browser.new_context(viewport=size, locale="vi-VN", is_mobile=request.param == "phone")
    p = context.new_page()
    p.form_factor = request.param
    p.dialogs, p.script_errors = [], []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    p.on("pageerror", lambda e: p.script_errors.append(str(e)))
    yield p
    context.close()


@pytest.fixture
def shot():
    """``shot(page, name)`` saves a full-page screenshot as var/screenshots/NAME-<form factor>.png."""

    def take(page, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}-{page.form_factor}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
