"""Editing a contact's consent per channel on its page and through the API, audited."""

from __future__ import annotations

import json

import pytest

from crm_modules.sales.models import Consent
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def test_a_marketer_records_and_withdraws_consent_on_the_page(alpha: Workspace) -> None:
    contact = ContactFactory.create(owner=alpha.owner.user)
    marketer = alpha.members[Role.MARKETER]
    client = workspace_client(marketer.user, alpha.tenant)
    html = client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert 'data-testid="consent-form"' in html
    path = f"/sales/contacts/{contact.pk}/consent/"
    response = client.post(
        path,
        {
            "channel": "email",
            "status": "given",
            "recorded_at": "2026-01-15T10:30",
            "method": "Signed up at the Milan fair",
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.status, consent.method, consent.recorded_by_id) == (
        "given", "Signed up at the Milan fair", marketer.user_id,
    )  # fmt: skip
    assert consent.recorded_at.date().isoformat() == "2026-01-15"
    client.post(path, {"channel": "email", "status": "withdrawn", "method": "Replied STOP"})
    consent = Consent.objects.get()
    assert consent.status == "withdrawn"
    events = list(AuditEvent.objects.filter(action="consent.recorded").order_by("id"))
    assert [(e.data["status"], e.data["previous"]) for e in events] == [
        ("given", None),
        ("withdrawn", "given"),
    ]
    assert events[1].data["method"] == "Replied STOP"
    html = client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert 'data-consent="email"' in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channel": "email", "status": "given", "method": ""}, "Say how the consent"),
        ({"channel": "fax", "status": "given", "method": "x"}, "Select a valid choice"),
        (
            {"channel": "sms", "status": "given", "method": "x", "recorded_at": "yesterday"},
            "YYYY-MM-DD",
        ),
        (
            {"channel": "sms", "status": "given", "method": "x", "recorded_at": "2999-01-01T00:00"},
            "future",
        ),
    ],
)
def test_bad_consent_is_named_and_saves_nothing(
    alpha: Workspace, data: dict[str, str], message: str
) -> None:
    contact = ContactFactory.create(owner=alpha.owner.user)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(f"/sales/contacts/{contact.pk}/consent/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.filter(action="consent.recorded").exists()


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.READ_ONLY])
def test_roles_without_marketing_rights_cannot_record_consent(alpha: Workspace, role: str) -> None:
    contact = ContactFactory.create(owner=alpha.owner.user)
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    assert (
        'data-testid="consent-form"'
        not in client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    )
    data = {"channel": "email", "status": "given", "method": "x"}
    assert client.post(f"/sales/contacts/{contact.pk}/consent/", data).status_code == 403
    response = client.generic(
        "POST",
        f"/api/v1/sales/contacts/{contact.pk}/consents/",
        json.dumps(data),
        "application/json",
    )
    assert response.status_code == 403
    assert not Consent.objects.exists()


def test_a_rep_records_consent_only_on_their_own_contacts(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    theirs = ContactFactory.create(owner=alpha.owner.user)
    mine = ContactFactory.create(owner=rep.user)
    client = workspace_client(rep.user, alpha.tenant)
    data = {"channel": "phone", "status": "given", "method": "On the call"}
    assert client.post(f"/sales/contacts/{theirs.pk}/consent/", data).status_code == 404
    assert client.post(f"/sales/contacts/{mine.pk}/consent/", data).status_code == 302
    assert list(Consent.objects.values_list("contact_id", flat=True)) == [mine.pk]


def test_consent_through_the_api(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    client = workspace_client(alpha.owner.user, alpha.tenant)
    path = f"/api/v1/sales/contacts/{contact.pk}/consents/"
    body = {
        "channel": "sms",
        "status": "given",
        "method": "Double opt-in",
        "recorded_at": "2026-02-01T08:00:00Z",
    }
    response = client.generic("POST", path, json.dumps(body), "application/json")
    assert response.status_code == 201, response.content
    assert client.get(path).json() == [
        {
            "channel": "sms",
            "status": "given",
            "recorded_at": "2026-02-01T08:00:00Z",
            "method": "Double opt-in",
            "recorded_by": alpha.owner.user_id,
        }
    ]
    body["method"] = ""
    response = client.generic("POST", path, json.dumps(body), "application/json")
    assert response.status_code == 400
    assert "method" in response.json()["error"]["fields"]
