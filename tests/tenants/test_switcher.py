"""A person in several workspaces moves between them without signing in again."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.test import Client

from tenants.roles import Role
from tests.conftest import Workspace, public_client
from tests.factories import MembershipFactory


class Browser:
    """Host-only cookies, as a browser keeps them: one cookie jar per host."""

    def __init__(self, public: Client):
        self.clients = {"localhost": public}

    def get(self, url: str) -> Any:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        client = self.clients.setdefault(host, Client(HTTP_HOST=host))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return client.get(path)

    def enter(self, slug: str) -> None:
        handed = self.get(f"http://localhost/w/{slug}/")
        assert handed.status_code == 302
        landed = self.get(handed["Location"])
        assert landed.status_code == 302
        assert landed["Location"] == "/"


def test_member_of_two_workspaces_switches_without_signing_in_again(
    alpha: Workspace, bravo: Workspace
) -> None:
    person = alpha.members[Role.SALES_REP].user
    MembershipFactory.create(user=person, tenant=bravo.tenant, role=Role.MANAGER)
    browser = Browser(public_client(person))

    browser.enter("alpha")
    alpha_home = browser.get("http://alpha.localhost/")
    assert alpha_home.status_code == 200
    body = alpha_home.content.decode()
    assert 'data-testid="current-workspace"><span class="ws-name">Alpha Inc' in body
    assert 'href="http://localhost/w/bravo/"' in body  # the switcher offers the other one

    browser.enter("bravo")
    bravo_home = browser.get("http://bravo.localhost/")
    assert bravo_home.status_code == 200
    assert bravo_home.context["membership"].role == Role.MANAGER
    assert bravo_home.context["workspace"] == bravo.tenant

    # Both workspace sessions stay usable side by side.
    assert browser.get("http://alpha.localhost/members/").status_code == 200


def test_switcher_lists_only_live_memberships(alpha: Workspace, bravo: Workspace) -> None:
    person = alpha.members[Role.SALES_REP].user
    MembershipFactory.create(
        user=person, tenant=bravo.tenant, role=Role.MANAGER, status="deactivated"
    )
    response = public_client(person).get("/workspaces/")
    assert [m.tenant.slug for m in response.context["memberships"]] == ["alpha"]
