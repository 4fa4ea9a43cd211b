"""A company signs up, invites a colleague, promotes and then removes them — in real browsers
against the real ASGI server, with the colleague's open page following along over WebSocket."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect

from tenants import services
from tenants.live import all_topics
from tenants.models import Invitation, Membership, PendingSignup, Tenant, User, UserSession
from tenants.roles import Role
from tests.e2e.conftest import DESKTOP, LiveSite, capture, orm

COMPANY = "Northwind Trading"
SLUG = "northwind"
ADMIN_NAME = "Nadia Owner"
ADMIN_EMAIL = "nadia@northwind.example.com"
COLLEAGUE_NAME = "Kai Colleague"
COLLEAGUE_EMAIL = "kai@northwind.example.com"
PASSWORD = "a-long-enough-passphrase"
# Generous: two browsers, a signup and its provisioning share two busy cores.
SLOW = 60_000

# django_db only makes sure the test database exists (see tests/e2e/conftest.py); its wrapping
# transaction stays empty because this thread never queries, and the server commits.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _delete_created() -> tuple[bool, bool]:
    for tenant in Tenant.objects.filter(slug=SLUG):
        services.workspace_delete(tenant=tenant, actor=None)
    users = User.objects.filter(email__in=[ADMIN_EMAIL, COLLEAGUE_EMAIL])
    UserSession.objects.filter(user_id__in=list(users.values_list("pk", flat=True))).delete()
    users.delete()
    PendingSignup.objects.filter(email=ADMIN_EMAIL).delete()
    return (
        Tenant.objects.filter(slug=SLUG).exists(),
        User.objects.filter(email__in=[ADMIN_EMAIL, COLLEAGUE_EMAIL]).exists(),
    )


@pytest.fixture
def site(committed_spare: Tenant, live_site: LiveSite) -> Iterator[LiveSite]:
    """The live site, with a ready spare for the signup to claim."""
    yield live_site
    assert orm(_delete_created) == (False, False)


@pytest.fixture
def new_page(browser: Browser, site: LiveSite) -> Iterator[Callable[[], Page]]:
    """Each call is a separate browser profile (its own cookies), like a second person.

    Every page runs under the product's Content-Security-Policy; anything it blocks (an inline
    script, a form redirect to a host it does not allow) fails the test."""
    contexts: list[BrowserContext] = []
    violations: list[str] = []

    def make() -> Page:
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
    assert violations == []


def _record_socket_events(page: Page) -> list[dict[str, Any]]:
    """Every message the page's WebSockets receive, decoded, in order of arrival."""
    received: list[dict[str, Any]] = []

    def on_frame(payload: str | bytes) -> None:
        received.append(json.loads(payload))

    def on_socket(socket: WebSocket) -> None:
        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return received


def _wait_for_event(page: Page, received: list[dict[str, Any]], event: str) -> dict[str, Any]:
    # Playwright delivers socket frames to Python only while one of its calls is running, so
    # the wait is a loop of short page waits rather than a plain sleep.
    deadline = time.monotonic() + 15
    while True:
        for message in received:
            if message.get("event") == event:
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event!r} message; received {received!r}")
        page.wait_for_timeout(50)


def _membership_of(email: str) -> tuple[str, str]:
    membership = Membership.objects.get(tenant__slug=SLUG, user__email=email)
    return membership.role, membership.status


def _invitation_status(email: str) -> list[str]:
    return list(
        Invitation.objects.filter(tenant__slug=SLUG, email=email).values_list("status", flat=True)
    )


def test_signup_invite_promote_and_deactivate_live(
    site: LiveSite, new_page: Callable[[], Page]
) -> None:
    workspace = site.workspace(SLUG)
    admin = new_page()

    for name, path in (
        ("landing", "/"),
        ("pricing", "/pricing/"),
        ("login", "/accounts/login/"),
        ("signup", "/signup/"),
    ):
        response = admin.goto(site.public + path)
        assert response is not None
        assert response.status == 200, path
        capture(admin, name)

    # Sign up: the emailed link ends up on the workspace's own host, signed in.
    admin.get_by_label("Company name").fill(COMPANY)
    address = admin.get_by_label("Workspace address")
    address.fill("admin")
    expect(admin.get_by_test_id("slug-status")).to_have_text(
        "This address is reserved. Choose another."
    )
    address.fill(SLUG)
    expect(admin.get_by_test_id("slug-status")).to_have_text(f"{SLUG}.localhost is available.")
    admin.get_by_label("Your full name").fill(ADMIN_NAME)
    admin.get_by_label("Work email").fill(ADMIN_EMAIL)
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Create workspace").click()
    # Nothing is created before the address is proven: the answer is "check your email".
    expect(admin.get_by_test_id("signup-check-email")).to_contain_text(ADMIN_EMAIL)
    capture(admin, "signup-check-email")
    assert orm(lambda: Tenant.objects.filter(slug=SLUG).exists()) is False

    # The emailed link shows what it will create; its button creates it and signs in.
    confirmations = [m for m in mail.outbox if m.to == [ADMIN_EMAIL]]
    assert len(confirmations) == 1
    signup_links = re.findall(r"http://\S+/signup/confirm/\S+/", str(confirmations[0].body))
    assert len(signup_links) == 1
    assert signup_links[0].startswith(f"{site.public}/signup/confirm/")
    admin.goto(signup_links[0])
    expect(admin.get_by_test_id("signup-confirm")).to_contain_text(f"{SLUG}.localhost")
    capture(admin, "signup-confirm")
    admin.get_by_role("button", name="Create workspace").click()
    expect(admin).to_have_url(f"{workspace}/", timeout=SLOW)
    expect(admin.get_by_test_id("current-workspace")).to_have_text(COMPANY)
    # Following the link proved the address: no verification banner.
    expect(admin.get_by_test_id("verify-banner")).to_have_count(0)
    expect(admin.get_by_test_id("my-role")).to_have_text("Owner")
    capture(admin, "workspace-home")

    # Invite a colleague as Sales rep.
    admin.get_by_role("navigation", name="Workspace").get_by_role("link", name="Members").click()
    expect(admin).to_have_url(f"{workspace}/members/")
    invite_form = admin.locator("form[action='/members/invite/']")
    invite_form.get_by_label("Email").fill(COLLEAGUE_EMAIL)
    invite_form.get_by_label("Role").select_option(Role.SALES_REP.value)
    invite_form.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_test_id("invitations")).to_contain_text(COLLEAGUE_EMAIL)
    expect(admin.get_by_test_id("invitations")).to_contain_text("Sales rep")
    capture(admin, "members")

    for name, path in (("roles", "/roles/"), ("settings", "/settings/"), ("audit-log", "/audit/")):
        response = admin.goto(workspace + path)
        assert response is not None
        assert response.status == 200, path
        capture(admin, name)

    invitations = [m for m in mail.outbox if m.to == [COLLEAGUE_EMAIL]]
    assert len(invitations) == 1
    links = re.findall(r"http://\S+/invitations/\S+/", str(invitations[0].body))
    assert len(links) == 1
    assert links[0].startswith(f"{site.public}/invitations/")

    # The colleague, in a browser of their own, accepts with a name and password.
    colleague = new_page()
    received = _record_socket_events(colleague)
    response = colleague.goto(links[0])
    assert response is not None
    assert response.status == 200
    expect(colleague.get_by_role("heading", level=1)).to_have_text(f"Join {COMPANY}")
    capture(colleague, "invitation-accept")
    colleague.get_by_label("Your full name").fill(COLLEAGUE_NAME)
    colleague.get_by_label("Password").fill(PASSWORD)
    colleague.get_by_role("button", name="Create account and join").click()
    expect(colleague).to_have_url(f"{workspace}/")
    expect(colleague.get_by_test_id("current-workspace")).to_have_text(COMPANY)
    expect(colleague.get_by_test_id("my-role")).to_have_text("Sales rep")
    # Joining through the emailed link proves the address: no verification banner.
    expect(colleague.get_by_test_id("verify-banner")).to_have_count(0)
    assert _wait_for_event(colleague, received, "hello")["payload"] == {
        "role": "sales_rep",
        # Every module's topic a Sales rep may hear (the test module's notes among them).
        "topics": [t.name for t in all_topics() if Role.SALES_REP in t.capability.roles],
    }
    assert orm(_invitation_status, COLLEAGUE_EMAIL) == [Invitation.Status.ACCEPTED]
    # Survives only as long as the page is not reloaded.
    colleague.evaluate("window.__samePage = true")

    # The admin promotes the colleague; the colleague's open page follows without a reload.
    admin.goto(f"{workspace}/members/")
    # "/" jumps to the search box; finding a member filters the list in place.
    admin.keyboard.press("/")
    expect(admin.get_by_label("Find a member")).to_be_focused()
    admin.get_by_label("Find a member").fill(COLLEAGUE_EMAIL.split("@")[0])
    expect(admin.locator("[data-testid=members] tbody tr")).to_have_count(1)
    expect(admin).to_have_url(re.compile(r"/members/\?q="))
    row = admin.locator(f"tr[data-member='{COLLEAGUE_EMAIL}']")
    expect(row).to_contain_text(COLLEAGUE_NAME)
    row.get_by_label("Role").select_option(Role.MANAGER.value)
    row.get_by_role("button", name="Change").click()
    expect(admin.get_by_text("Role changed.")).to_be_visible()
    assert orm(_membership_of, COLLEAGUE_EMAIL) == (Role.MANAGER, Membership.Status.ACTIVE)

    expect(colleague.get_by_test_id("my-role")).to_have_text("Manager")
    expect(colleague.get_by_test_id("live-toast")).to_have_text("Your role is now Manager")
    assert colleague.evaluate("window.__samePage") is True
    assert _wait_for_event(colleague, received, "role.changed")["payload"] == {
        "role": "manager",
        "role_label": "Manager",
    }

    # The admin deactivates the colleague: their open page is told at once...
    row = admin.locator(f"tr[data-member='{COLLEAGUE_EMAIL}']")
    row.get_by_role("button", name="Deactivate").click()
    # A destructive action asks first, naming whom it acts on.
    confirm = admin.get_by_role("dialog", name=f"Deactivate {COLLEAGUE_NAME}?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(COLLEAGUE_EMAIL)
    capture(admin, "members-confirm-deactivate")
    confirm.get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_text("Member deactivated.")).to_be_visible()
    assert orm(_membership_of, COLLEAGUE_EMAIL) == (Role.MANAGER, Membership.Status.DEACTIVATED)

    expect(colleague.locator("body")).to_have_attribute("data-access-revoked", "true")
    expect(colleague.get_by_test_id("live-toast").last).to_have_text(
        "Your access to this workspace has been removed."
    )
    assert _wait_for_event(colleague, received, "session.revoked")["payload"] == {
        "reason": "deactivated"
    }
    assert colleague.evaluate("window.__samePage") is True

    # ...and their next request is refused.
    with colleague.expect_response(f"{workspace}/members/") as refused:
        colleague.get_by_role("navigation", name="Workspace").get_by_role(
            "link", name="Members"
        ).click()
    assert refused.value.status == 403
    expect(colleague.get_by_test_id("access-refused")).to_be_visible()
    expect(colleague.get_by_test_id("access-refused")).to_contain_text(COMPANY)
    expect(colleague.get_by_test_id("members")).to_have_count(0)
