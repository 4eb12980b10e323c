"""Browser tests: Debian's Chromium driven by Playwright's Python client, against the hub on
a live server and the sandboxes. `make test` installs the chromium package when missing."""

import json
import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# beside it are ordinary blocking ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the test machine runs as root
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    # The machine has no internet: keep Chromium from trying (and stalling on) Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def _conditions_checked_ten_times_a_second():
    """`wait_for_function` checks its condition on every animation frame unless told
    otherwise: 60 times a second for the whole wait, which kept Chromium busy for most of the
    browser tests' CPU. Ten times a second still tells a page that answers "within 2 s" from
    one that does not."""
    from playwright.sync_api import Page

    original = Page.wait_for_function

    def wait_for_function(self, expression, *, polling=100, **options):
        return original(self, expression, polling=polling, **options)

    Page.wait_for_function = wait_for_function
    yield
    Page.wait_for_function = original


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            "Chromium is missing: `make test` installs Debian's chromium package (apt-get install chromium)."
        )
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def hub(live_server, settings, sandbox):
    """The hub on a live server, registered with the emulators under its own URL."""
    settings.HUB_BASE_URL = live_server.url
    # The live server speaks plain http: secure-only cookies would never come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.OAUTH_STATUS_POLL_SECONDS = 3
    sandbox.reset(hub_base_url=live_server.url)
    return live_server


@pytest.fixture
def signed_in(browser, hub, client):
    """A browser page whose session belongs to the given user: call it with a user."""
    contexts = []

    def open_as(user):
        client.force_login(user)
        context = browser.new_context()
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": hub.url}]
        )
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def timings(tmp_path_factory):
    """Seconds from clicking Connect to the connected email on the page, per provider: the
    figure the issue asks for, written to var/test/e2e-oauth-timings.json and printed."""
    from django.conf import settings

    measured: dict[str, float] = {}
    yield measured
    if measured:
        path = settings.VAR_DIR / "e2e-oauth-timings.json"
        path.write_text(json.dumps(measured, indent=2))
        print(
            "\nOAuth popup, click -> email shown:",
            ", ".join(f"{k} {v:.2f}s" for k, v in measured.items()),
        )
