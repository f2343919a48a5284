"""A real browser for the browser tests: Debian's Chromium, headless, driven by Selenium
through chromium-driver, against pytest-django's live server (one per session).

One browser per test module (starting Chromium costs about a second); every test starts
with its cookies cleared. It may reach the live server only: every other host name
resolves to nothing (`--host-resolver-rules`), so a page that needs the internet shows it,
and `requests_elsewhere` lists what it tried. Screenshots go to var/test-output/screenshots/
(git-ignored) for a reviewer to look at.

Without Chromium these tests fail, naming the packages to install (.ci/run installs them):
a browser test that skips hides what it was meant to show.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MISSING = (
    "Chromium not found ({}): install the Debian packages 'chromium' and 'chromium-driver' "
    "(sudo apt-get install chromium chromium-driver); .ci/run installs them."
)
# Quiet, private and local: no sync, updates, first-run pages or background connections.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    # Nothing but this machine: other names do not resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            pytest.fail(MISSING.format(path), pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """The module's browser, with no cookies left from an earlier test."""
    browser.get(f"{live_server.url}/api/v1/health/live/")
    browser.delete_all_cookies()
    return browser


@pytest.fixture
def screenshot(page, request) -> Callable[[str], Path]:
    """Save what the browser shows as var/test-output/screenshots/<module>-<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")

    def save(name: str) -> Path:
        path = SCREENSHOTS / f"{module}-{name}.png"
        page.save_screenshot(str(path))
        return path

    return save


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "s3cret-pw")


@pytest.fixture
def sign_in(page, live_server) -> Callable[[object], None]:
    """Sign `user` in to the admin without typing (the admin test types the form once)."""

    def sign(user) -> None:
        client = Client()
        client.force_login(user)
        page.get(f"{live_server.url}/api/v1/health/live/")  # cookies are set per site
        page.add_cookie(
            {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies["sessionid"].value}
        )

    return sign


def requests_elsewhere(browser, origin: str) -> list[str]:
    """The URLs the browser sent requests to since the last call, other than `origin`'s
    (the page's own data: and blob: URLs aside; a request the page's Content-Security-Policy
    stopped was never sent)."""
    asked, refused = {}, set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            asked[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
            refused.add(params["requestId"])  # stopped by the page's policy: never sent
    mine = urlsplit(origin).netloc
    return [
        url
        for request_id, url in asked.items()
        if request_id not in refused
        and urlsplit(url).scheme in ("http", "https", "ws", "wss")
        and urlsplit(url).netloc != mine
    ]
