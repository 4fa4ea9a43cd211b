"""Browser end-to-end fixtures: a real ASGI server (HTTP + WebSocket) on loopback inside the test
process, and Debian's Chromium driven by Playwright.

The server runs in a background thread so that it uses the test database, but on connections
of its own: what a test creates there is committed, not rolled back, so each test deletes what
it created. Mark such tests ``pytest.mark.django_db`` all the same: that is what makes
pytest-django create the test database when only e2e tests are collected.

Playwright's sync API keeps an event loop running in the test thread, where Django refuses ORM
calls; ``orm`` runs them in a short-lived thread instead.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import override_settings
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tenants.models import Membership, UserSession
from tests.conftest import workspace_client

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MOBILE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=800)

T = TypeVar("T")

# How long an assertion waits for the page to get there (Playwright's own default is 5 s).
# Two test workers share two cores; a live update through Celery, Redis and the socket can
# take longer than 5 s there without anything being wrong. Speed is not what these check.
expect.set_options(timeout=20_000)


def orm(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a database call outside the thread where Playwright's event loop is running."""

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@dataclass
class LiveSite:
    port: int

    @property
    def public(self) -> str:
        return f"http://localhost:{self.port}"

    def workspace(self, slug: str) -> str:
        return f"http://{slug}.localhost:{self.port}"


@contextmanager
def _serve(port_socket: socket.socket) -> Iterator[None]:
    from crm_platform.asgi import application

    host, port = port_socket.getsockname()
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        lifespan="off",
        ws="websockets-sansio",
        log_level="warning",
        # A page still open on a socket would hold the shutdown until the join below gives up:
        # after a second the server closes what is left.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [port_socket]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def _closing_server_connections() -> Iterator[None]:
    """Close every database connection the server's threads opened.

    Under ASGI, Django renders error pages (a 404 for /favicon.ico, say) in a worker thread
    that request_finished never visits, so those connections stay open and would keep the test
    database from being dropped.
    """
    opened: list[Any] = []

    def remember(sender: Any, connection: Any, **kwargs: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            opened.append(connection.connection)

    connection_created.connect(remember, weak=False, dispatch_uid="e2e-server-connections")
    try:
        yield
    finally:
        connection_created.disconnect(dispatch_uid="e2e-server-connections")
        for raw in opened:
            if not raw.closed:
                raw.close()


@contextmanager
def _sign_ins_undone() -> Iterator[None]:
    """Delete the sessions made during the block and put back every member's last-seen time.

    Browsers sign in through sessions committed to the shared test database, and every page
    they load marks the member as seen; left behind, both change what later tests count.
    """

    def snapshot() -> tuple[set[str], list[tuple[int, Any]]]:
        sessions = set(UserSession.objects.values_list("session_key", flat=True))
        return sessions, list(Membership.objects.values_list("pk", "last_seen_at"))

    sessions, seen = orm(snapshot)

    def restore() -> None:
        UserSession.objects.exclude(session_key__in=sessions).delete()
        for pk, last_seen in seen:
            Membership.objects.filter(pk=pk).update(last_seen_at=last_seen)

    try:
        yield
    finally:
        orm(restore)


@pytest.fixture
def live_site(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveSite]:
    """A real ASGI server on a free loopback port for one test, with database access open and
    absolute URLs carrying the port (other tests expect URLs without one).

    Once the server has stopped, the sessions the test signed in with are deleted and the
    members' last-seen times put back (``_sign_ins_undone``): a test cleans up only its own
    records."""
    # Data is committed here, so never run against anything but the test database.
    name = settings.DATABASES["default"]["NAME"]
    assert str(name).startswith("test_"), (
        f"refusing to run against database {name!r}: is the test marked django_db?"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as port_socket:
        port_socket.bind(("127.0.0.1", 0))
        port = port_socket.getsockname()[1]
        with (
            django_db_blocker.unblock(),
            _sign_ins_undone(),
            override_settings(SITE_PORT=str(port), ALLOWED_HOSTS=["localhost", ".localhost"]),
            _closing_server_connections(),
            _serve(port_socket),
        ):
            yield LiveSite(port=port)


# Function-scoped on purpose: Playwright's loop must not be running yet while pytest-django opens
# the test's database wrapper in this thread.
@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable or None, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def overflowing_elements(page: Page) -> list[str]:
    """Describe the elements whose right edge passes the viewport, for a readable failure."""
    found: list[str] = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const out = [];
          for (const el of document.querySelectorAll("body *")) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > width + 1) {
              const cls = el.className && typeof el.className === "string"
                ? "." + el.className.trim().split(/\\s+/).join(".") : "";
              out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${cls}`
                + ` right=${Math.round(box.right)}`);
            }
          }
          return out.slice(0, 10);
        }"""
    )
    return found


def capture(page: Page, name: str) -> None:
    """Screenshot the current page at phone and desktop widths; at phone width nothing may
    scroll sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for size in (MOBILE, DESKTOP):
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"{name}-{size['width']}.png", full_page=True)
        if size == MOBILE:
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= MOBILE["width"] + 1, (
                f"{name} overflows at 375 px (scrollWidth {scroll_width}): "
                f"{overflowing_elements(page)}"
            )
    if original is not None:
        page.set_viewport_size(original)


def session_key(membership: Membership) -> str:
    """A session of ``membership`` on its workspace's host, for a browser's cookie (call it
    through ``orm``)."""
    client = workspace_client(membership.user, membership.tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def signed_in_page(
    browser: Browser,
    membership: Membership,
    *,
    viewport: ViewportSize = DESKTOP,
    timeout: float = 15_000,
) -> Page:
    """A page signed in as ``membership`` on its workspace's host; a touch phone at the
    phone's width."""
    phone = viewport == MOBILE
    context = browser.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
    context.set_default_timeout(timeout)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, membership),
        "domain": f"{membership.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    return context.new_page()


def phone_page(browser: Browser, membership: Membership) -> Page:
    """A page on a touch phone, signed in as ``membership`` on its workspace's host."""
    return signed_in_page(browser, membership, viewport=MOBILE)
