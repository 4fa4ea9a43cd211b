"""The customers' realm (the portal, ADR 0038) asked by every kind of visitor: customer X,
customer Y, a staff member of the workspace, an anonymous visitor, and customers and staff of
another workspace. The patterns are read from the customer URLconfs the modules declare
(``ModuleConfig.customer_urls``), so a portal view added later must be listed here.

- A portal view needing a signed-in customer answers anyone without a portal session (staff
  included: a member's session means nothing here) with the sign-in page, changing nothing.
- A ticket that is not the customer's (customer Y's, another workspace's) is 404.
- A portal session never reaches a staff URL: every staff page answers it as anonymous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver
from django_tenants.utils import schema_context

from crm_modules.service.models import Article, PortalSettings, Ticket, TicketMessage
from tenants.modules import module_configs
from tests.conftest import Workspace
from tests.isolation.conftest import db_state, request
from tests.isolation.test_matrix import GUARDED, _path, _sign_in_url
from tests.sales.factories import CompanyFactory
from tests.service.conftest import customer, portal_client

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


# Every customer URL: (prefix, name, route).
PORTAL = [
    (f"/{prefix}", pattern.name, str(pattern.pattern))
    for config in module_configs()
    for prefix, urlconf in sorted(config.customer_urls.items())
    for pattern in get_resolver(urlconf).url_patterns
    if isinstance(pattern, URLPattern)
]

# Views anyone may reach, and why that is safe.
OPEN = {
    "sign_in": "asks for a magic link; the same answer for known and unknown addresses",
    "redeem": "the unguessable one-time token is the key; GET shows a button only",
    "csat_rate": "the signed survey token is the key; GET records nothing",
    "articles": "the public knowledge base: published public articles only",
    "article": "one published public article; any other id is 404",
    "article_suggest": "published public articles only",
}
# What a signed-in customer is answered on their own ticket (GET, empty POST).
SIGNED_IN = {
    "home": {"GET": 200, "POST": 405},
    "sign_out": {"GET": 405, "POST": 302},
    "ticket_new": {"GET": 200, "POST": 400},
    "ticket": {"GET": 200, "POST": 405},
    "ticket_reply": {"GET": 405, "POST": 400},
    "profile": {"GET": 200, "POST": 400},
}
METHODS = ("GET", "POST")


def test_every_portal_view_is_listed() -> None:
    names = {name for _prefix, name, _route in PORTAL}
    assert names == set(OPEN) | set(SIGNED_IN)
    assert not set(OPEN) & set(SIGNED_IN)


def _url(name: str, ticket_id: int) -> str:
    (prefix, _name, route) = next(p for p in PORTAL if p[1] == name)
    return prefix + route.replace("<int:ticket_id>", str(ticket_id))


def _own_ticket(alpha: Workspace) -> tuple[Any, Any, int, int]:
    with schema_context(alpha.tenant.schema_name):
        x = customer("x@example.com", first_name="Xavier")
        y = customer("y@example.com", first_name="Yara")
        mine = Ticket.objects.create(subject="X's", contact=x, status="open")
        theirs = Ticket.objects.create(subject="Y's", contact=y, status="open")
        TicketMessage.objects.create(ticket=theirs, kind="reply", direction="inbound", body="Y")
        return x, y, mine.pk, theirs.pk


def _refused(client: Client, method: str, path: str, status: int, alpha: Workspace) -> TestResponse:
    before = db_state(alpha)
    response = request(client, method, path)
    assert response.status_code == status, f"{method} {path}"
    assert db_state(alpha) == before
    return response


SIGNED_IN_NAMES = sorted(SIGNED_IN)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", SIGNED_IN_NAMES)
def test_customer_x_is_answered_on_their_own_ticket(
    name: str, method: str, alpha: Workspace
) -> None:
    x, _y, mine, _theirs = _own_ticket(alpha)
    with schema_context(alpha.tenant.schema_name):
        client = portal_client(alpha, x)
    assert request(client, method, _url(name, mine)).status_code == SIGNED_IN[name][method]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["ticket", "ticket_reply"])
def test_customer_x_does_not_find_customer_ys_ticket(
    name: str, method: str, alpha: Workspace
) -> None:
    x, _y, _mine, theirs = _own_ticket(alpha)
    with schema_context(alpha.tenant.schema_name):
        client = portal_client(alpha, x)
    if SIGNED_IN[name][method] == 405:
        assert request(client, method, _url(name, theirs)).status_code == 405
        return
    _refused(client, method, _url(name, theirs), 404, alpha)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["ticket", "ticket_reply"])
def test_a_ticket_of_another_workspace_is_not_found(
    name: str, method: str, alpha: Workspace, bravo: Workspace
) -> None:
    """Customer X of alpha asks on alpha's host for a ticket that exists only in bravo; and X's
    portal cookie means nothing on bravo's host, even for bravo's ticket."""
    x, _y, mine, theirs = _own_ticket(alpha)
    with schema_context(bravo.tenant.schema_name):
        foreign = Ticket.objects.create(pk=max(mine, theirs) + 1000, subject="B", status="open")
        bravo_x = customer("x@example.com")
        Ticket.objects.filter(pk=foreign.pk).update(contact=bravo_x)
    with schema_context(alpha.tenant.schema_name):
        client = portal_client(alpha, x)
    expected = SIGNED_IN[name][method]
    _refused(client, method, _url(name, foreign.pk), 405 if expected == 405 else 404, alpha)
    on_bravo = Client(HTTP_HOST=bravo.host)
    on_bravo.cookies = client.cookies
    before = db_state(bravo)
    response = request(on_bravo, method, _url(name, foreign.pk))
    assert response.status_code == 302
    assert response["Location"] == "/portal/sign-in/"
    assert db_state(bravo) == before


VISITORS = ["anonymous", "staff", "bravo-customer"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("who", VISITORS)
@pytest.mark.parametrize("name", SIGNED_IN_NAMES)
def test_without_a_portal_session_of_this_workspace_the_sign_in_page_answers(
    name: str,
    method: str,
    who: str,
    alpha: Workspace,
    bravo: Workspace,
    visit: Callable[[str | None, str], Client],
) -> None:
    _x, _y, mine, _theirs = _own_ticket(alpha)
    if who == "anonymous":
        client = Client(HTTP_HOST=alpha.host)
    elif who == "staff":
        client = visit("owner", alpha.host)  # the Owner holds every staff capability
    else:
        with schema_context(bravo.tenant.schema_name):
            stranger = customer("x@example.com")
            bravo_client = portal_client(bravo, stranger)
        client = Client(HTTP_HOST=alpha.host)
        client.cookies = bravo_client.cookies
    # The portal check comes first, even before the method is looked at.
    response = _refused(client, method, _url(name, mine), 302, alpha)
    assert response["Location"] == "/portal/sign-in/"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_a_portal_session_never_reaches_a_staff_page(
    endpoint: Any, method: str, alpha: Workspace
) -> None:
    x, _y, _mine, _theirs = _own_ticket(alpha)
    with schema_context(alpha.tenant.schema_name):
        client = portal_client(alpha, x)
    path = _path(endpoint, alpha)
    response = _refused(client, method, path, 302, alpha)
    assert response["Location"] == _sign_in_url(path, alpha)


@pytest.mark.parametrize("path", ["/api/v1/service/tickets/", "/api/v1/sales/contacts/"])
def test_a_portal_session_never_reaches_the_api(path: str, alpha: Workspace) -> None:
    x, _y, _mine, _theirs = _own_ticket(alpha)
    with schema_context(alpha.tenant.schema_name):
        client = portal_client(alpha, x)
    for method in METHODS:
        assert _refused(client, method, path, 401, alpha).status_code == 401


@pytest.mark.parametrize("name", ["sign_in", "redeem", "csat_rate"])
def test_open_views_need_their_token(name: str, alpha: Workspace) -> None:
    """Without a valid token the open views change nothing and sign nobody in."""
    if name == "sign_in":
        client = Client(HTTP_HOST=alpha.host)
        _refused(client, "POST", "/portal/sign-in/", 400, alpha)
        return
    path = "/portal/sign-in/not-a-token/" if name == "redeem" else "/portal/rate/not-a-token/"
    status = 400 if name == "redeem" else 404
    client = Client(HTTP_HOST=alpha.host)
    for method in METHODS:
        response = _refused(client, method, path, status, alpha)
        assert "rapport_portal" not in response.cookies


@pytest.mark.parametrize("who", ["anonymous", "customer", "staff"])
def test_only_published_public_articles_reach_the_portal(
    who: str, alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    with schema_context(alpha.tenant.schema_name):
        x = customer("x@example.com")
        made = {}
        for state, visibility in (
            ("published", "public"),
            ("published", "internal"),
            ("draft", "public"),
        ):
            article = Article.objects.create(
                title=f"Reset the router {state} {visibility}",
                search_title=f"reset the router {state} {visibility}",
                search_text=f"reset the router {state} {visibility}",
                body="Hold the button",
                language="en",
                state=state,
                visibility=visibility,
            )
            made[(state, visibility)] = article.pk
        client = (
            Client(HTTP_HOST=alpha.host)
            if who == "anonymous"
            else portal_client(alpha, x)
            if who == "customer"
            else visit("owner", alpha.host)
        )
    listing = client.get("/portal/articles/").content.decode()
    suggested = client.get(
        "/portal/articles/suggest/", {"subject": "how do I reset the router"}
    ).content.decode()
    for key, pk in made.items():
        public = key == ("published", "public")
        assert (f'data-article="{pk}"' in listing) is public, key
        assert (f'data-article="{pk}"' in suggested) is public, key
        assert client.get(f"/portal/articles/{pk}/").status_code == (200 if public else 404)
        assert _refused(client, "POST", f"/portal/articles/{pk}/", 405, alpha)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["ticket", "ticket_reply"])
def test_company_tickets_reach_only_the_customers_own_company(
    name: str, method: str, alpha: Workspace, bravo: Workspace
) -> None:
    """With "customers see their company's tickets" on, X reaches a colleague's ticket, never
    the ticket of a customer of another company or of none; and the setting of another
    workspace changes nothing here."""
    with schema_context(bravo.tenant.schema_name):
        PortalSettings.objects.create(company_tickets=True)
    with schema_context(alpha.tenant.schema_name):
        acme, other = CompanyFactory.create(), CompanyFactory.create()
        x = customer("x@example.com", company=acme)
        colleague = customer("c@example.com", company=acme)
        stranger = customer("s@example.com", company=other)
        loner = customer("l@example.com")
        tickets = {
            who: Ticket.objects.create(
                subject=who, contact=contact, company=contact.company, status="open"
            ).pk
            for who, contact in (("colleague", colleague), ("stranger", stranger), ("loner", loner))
        }
        client = portal_client(alpha, x)
    expected = SIGNED_IN[name][method]
    # Bravo's setting is bravo's: in alpha the colleague's ticket is still not X's.
    _refused(
        client, method, _url(name, tickets["colleague"]), 405 if expected == 405 else 404, alpha
    )
    with schema_context(alpha.tenant.schema_name):
        PortalSettings.objects.create(company_tickets=True)
    if expected != 405:
        assert request(client, method, _url(name, tickets["colleague"])).status_code == expected
    for who in ("stranger", "loner"):
        _refused(client, method, _url(name, tickets[who]), 405 if expected == 405 else 404, alpha)
