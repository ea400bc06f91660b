"""Real-browser tests: Playwright drives Debian's Chromium (never a downloaded browser).
Skipped with a clear reason on a machine without /usr/bin/chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures here are
# ordinary blocking calls, which is what we want in a test.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package to run browser tests")
        for item in items:
            if "browser" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    p = context.new_page()
    failed: list[str] = []
    # Offline intranet: any request that leaves the live server is a failure.
    p.on("request", lambda r: failed.append(r.url) if not r.url.startswith(("http://localhost", "http://127.0.0.1", "data:")) else None)
    yield p
    context.close()
    assert not failed, f"page tried to load external resources: {failed}"


@pytest.fixture
def shot() -> Any:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def _shot(page: Any, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
