"""The routing, macro, merge, split, escalation and availability screens in each channel (page,
HTMX, API) for each role: what the role may do works, the rest is refused and changes nothing.
The inbox keeps its constant query count with the new controls."""

from __future__ import annotations

import pytest

from crm_modules.service import services
from crm_modules.service.models import AgentProfile, Macro, RoutingRule, Ticket, TicketMessage
from tenants.models import Team
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import ContactFactory
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

WORKERS = {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SUPPORT_AGENT}
MANAGERS = {Role.OWNER, Role.ADMIN, Role.MANAGER}


def _ticket(alpha: Workspace, **kwargs: object) -> Ticket:
    kwargs.setdefault("subject", "Cannot sign in")
    return services.ticket_create(actor=fresh(alpha.members[Role.SUPPORT_AGENT]), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", Role.values)
def test_availability_switch_by_page_htmx_and_api(alpha: Workspace, role: str) -> None:
    member = alpha.members[role]
    client = workspace_client(member.user, alpha.tenant)

    page = client.post("/service/availability/", {"available": "on"})
    htmx = client.post("/service/availability/", {"available": "off"}, HTTP_HX_REQUEST="true")
    api = client.post(
        "/api/v1/service/availability/", {"available": True}, content_type="application/json"
    )

    profile = AgentProfile.objects.filter(user_id=member.user_id).first()
    if role in WORKERS:
        assert page.status_code == 302
        assert htmx.status_code == 200
        assert 'data-available="false"' in htmx.content.decode()
        assert api.json() == {"user": member.user_id, "available": True}
        assert profile is not None
        assert profile.available is True
    else:
        assert (page.status_code, htmx.status_code, api.status_code) == (403, 403, 403)
        assert profile is None


@pytest.mark.parametrize("role", Role.values)
def test_macro_preview_fills_the_reply_box_over_htmx(alpha: Workspace, role: str) -> None:
    contact = ContactFactory.create(first_name="ลูกค้า")
    ticket = _ticket(alpha, contact_id=contact.pk)
    macro = Macro.objects.create(name="Hi", body="สวัสดี {{ contact.first_name | คุณ }}")
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    response = client.get(
        f"/service/{ticket.pk}/macro/preview/", {"macro": macro.pk}, HTTP_HX_REQUEST="true"
    )

    if role in WORKERS:
        assert response.status_code == 200
        assert "สวัสดี ลูกค้า</textarea>" in response.content.decode()
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", Role.values)
def test_routing_rules_by_page_and_api(alpha: Workspace, role: str) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Italia")
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    page = client.post(
        "/service/routing/rules/",
        {"name": "Italian", "team": team.pk, "languages": "it", "channels": ["email"]},
    )
    api = client.post(
        "/api/v1/service/routing/rules/",
        {"name": "Thai", "team": team.pk, "languages": ["th"]},
        content_type="application/json",
    )

    if role in MANAGERS:
        assert (page.status_code, api.status_code) == (302, 201)
        assert list(RoutingRule.objects.order_by("position").values_list("name", "languages")) == [
            ("Italian", ["it"]),
            ("Thai", ["th"]),
        ]
        listing = client.get("/service/routing/")
        assert listing.status_code == 200
        assert "Italian" in listing.content.decode()
    else:
        assert (page.status_code, api.status_code) == (403, 403)
        assert not RoutingRule.objects.exists()


def test_a_bad_rule_on_the_page_names_the_field(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    response = client.post("/service/routing/rules/", {"name": "", "team": ""})
    assert response.status_code == 400
    assert 'data-field="name"' in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_a_broken_macro_on_the_page_names_the_placeholder(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    response = client.post("/service/macros/new/", {"name": "x", "body": "Hi {{ contact.age }}"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-field="body"' in body
    assert "{{ contact.age }}" in body
    assert not Macro.objects.exists()


@pytest.mark.parametrize("role", Role.values)
def test_merge_and_split_by_page_and_api(alpha: Workspace, role: str) -> None:
    survivor = _ticket(alpha, subject="First")
    merged = _ticket(alpha, subject="Second")
    other = _ticket(alpha, subject="Third")
    message = TicketMessage.objects.create(
        ticket=other, kind="reply", direction="inbound", body="Another question"
    )
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    page = client.post(f"/service/{merged.pk}/merge/", {"into": f"#{survivor.pk}"})
    api = client.post(
        f"/api/v1/service/tickets/{other.pk}/split/",
        {"message": message.pk},
        content_type="application/json",
    )

    merged.refresh_from_db()
    message.refresh_from_db()
    if role in WORKERS:
        assert page.status_code == 302
        assert page["Location"] == f"/service/{survivor.pk}/"
        assert merged.merged_into_id == survivor.pk
        assert api.status_code == 201
        assert message.ticket_id == api.json()["id"]
    else:
        assert (page.status_code, api.status_code) == (403, 403)
        assert merged.merged_into_id is None
        assert message.ticket_id == other.pk


@pytest.mark.parametrize("role", Role.values)
def test_bulk_priority_and_tags_by_page_and_api(alpha: Workspace, role: str) -> None:
    one, two = _ticket(alpha), _ticket(alpha)
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    page = client.post(
        "/service/bulk/", {"ids": [one.pk, two.pk], "action": "priority", "priority": "high"}
    )
    api = client.post(
        "/api/v1/service/tickets/bulk/",
        {"tickets": [one.pk], "add_tags": ["vip"]},
        content_type="application/json",
    )

    rows = list(Ticket.objects.order_by("pk").values_list("priority", "tags"))
    if role in WORKERS:
        assert (page.status_code, api.json()) == (302, {"changed": 1})
        assert rows == [("high", ["vip"]), ("high", [])]
    else:
        assert (page.status_code, api.status_code) == (403, 403)
        assert rows == [("normal", []), ("normal", [])]


@pytest.mark.parametrize("role", Role.values)
def test_escalations_on_the_sla_page(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    response = client.post(
        "/service/sla/escalations/", {"target": "any", "action": "raise_priority"}
    )
    from crm_modules.service.models import SlaEscalation

    if role in {Role.OWNER, Role.ADMIN}:
        assert response.status_code == 302
        assert list(SlaEscalation.objects.values_list("action", flat=True)) == ["raise_priority"]
        page = client.get("/service/sla/")
        assert 'data-testid="escalations"' in page.content.decode()
    else:
        assert response.status_code == 403
        assert not SlaEscalation.objects.exists()


def test_the_ticket_page_offers_macros_merge_split_and_presence(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    TicketMessage.objects.create(ticket=ticket, kind="reply", direction="inbound", body="Hi")
    Macro.objects.create(name="Thanks", body="Thanks!")
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    body = client.get(f"/service/{ticket.pk}/").content.decode()
    for marker in (
        'data-testid="macro-form"',
        'data-testid="merge-form"',
        'data-testid="split-message"',
        'data-ws-url="/ws/service/presence/"',
    ):
        assert marker in body
    reader = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    seen = reader.get(f"/service/{ticket.pk}/").content.decode()
    assert 'data-testid="macro-form"' not in seen
    assert 'data-testid="split-message"' not in seen
