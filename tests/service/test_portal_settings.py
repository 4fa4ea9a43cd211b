"""The staff setting "customers see their company's tickets": only members with
``service.manage_portal`` change it (checked on the server), a bad answer names the field and
changes nothing, the change is audited, and the portal follows it at once."""

from __future__ import annotations

import re

import pytest

from crm_modules.service import services
from crm_modules.service.models import PortalSettings
from crm_modules.service.module import MANAGE_PORTAL
from crm_modules.service.services import portal
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.isolation.conftest import db_state
from tests.sales.factories import CompanyFactory
from tests.service.conftest import customer, fresh, portal_client

pytestmark = pytest.mark.usefixtures("in_alpha")

PAGE = "/service/portal/"


def test_an_admin_lets_customers_see_their_companys_tickets(alpha: Workspace) -> None:
    company = CompanyFactory.create()
    ada = customer("ada@example.com", company=company)
    bob = customer("bob@example.com", company=company)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    theirs = services.ticket_create(actor=agent, subject="Bob's", contact_id=bob.pk)
    ada_portal = portal_client(alpha, ada)
    assert ada_portal.get(f"/portal/tickets/{theirs.pk}/").status_code == 404

    staff = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = staff.get(PAGE)
    assert page.status_code == 200
    assert b'data-testid="company-tickets"' in page.content
    assert b"checked" not in page.content

    response = staff.post(PAGE, {"company_tickets": ["no", "yes"]})
    assert response.status_code == 302
    assert PortalSettings.objects.get().company_tickets is True
    assert b" checked" in staff.get(PAGE).content
    html = ada_portal.get("/portal/").content.decode()
    assert str(theirs.pk) in re.findall(r'data-ticket="(\d+)"', html)
    assert ada_portal.get(f"/portal/tickets/{theirs.pk}/").status_code == 200
    [event] = AuditEvent.objects.filter(action="portal.settings_changed")
    assert event.data == {"company_tickets": {"before": False, "after": True}}
    assert event.actor_id == alpha.members[Role.ADMIN].user_id

    # Unticked: only the hidden "no" is sent.
    assert staff.post(PAGE, {"company_tickets": "no"}).status_code == 302
    assert PortalSettings.objects.get().company_tickets is False
    assert ada_portal.get(f"/portal/tickets/{theirs.pk}/").status_code == 404
    assert PortalSettings.objects.count() == 1


@pytest.mark.parametrize("sent", [{}, {"company_tickets": "perhaps"}, {"company_tickets": ""}])
def test_a_bad_answer_names_the_field_and_changes_nothing(
    alpha: Workspace, sent: dict[str, str]
) -> None:
    staff = workspace_client(alpha.owner.user, alpha.tenant)
    before = db_state(alpha)
    response = staff.post(PAGE, sent)
    assert response.status_code == 400
    assert b'data-testid="error-company_tickets"' in response.content
    assert db_state(alpha) == before


@pytest.mark.parametrize("role", sorted(Role.values))
def test_only_members_who_manage_the_portal_change_it(alpha: Workspace, role: str) -> None:
    member = fresh(alpha.members[role])
    allowed = role in MANAGE_PORTAL.roles
    assert allowed == (role in (Role.OWNER, Role.ADMIN))
    client = workspace_client(member.user, alpha.tenant)
    response = client.post(PAGE, {"company_tickets": "yes"})
    assert response.status_code == (302 if allowed else 403)
    assert client.get(PAGE).status_code == (200 if allowed else 403)
    assert portal.portal_settings().company_tickets is allowed
    if not allowed:
        with pytest.raises(PermissionDenied):
            portal.portal_settings_update(actor=member, company_tickets=True)
        assert not PortalSettings.objects.exists()


def test_the_service_refuses_anything_but_yes_or_no(alpha: Workspace) -> None:
    owner = fresh(alpha.owner)
    for value in ("yes", 1, None, "<script>alert(1)</script>"):
        with pytest.raises(ServiceError) as caught:
            portal.portal_settings_update(actor=owner, company_tickets=value)
        assert caught.value.field == "company_tickets"
    assert not PortalSettings.objects.exists()
