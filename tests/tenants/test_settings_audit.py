"""Workspace settings (Owner and Admin) and the audit log: filters by action, actor and date
range, with dates and times in the workspace's own time zone."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from allauth.mfa.models import Authenticator
from django.utils import formats, translation
from django_tenants.utils import schema_context

from tenants.audit.actions import register_action, unregister_action
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import workspace_client

GOOD = {
    "name": "Alpha Holdings",
    "time_zone": "Europe/Rome",
    "currency": "EUR",
    "require_mfa_for_admins": "on",
}
ORIGINAL = {
    "name": "Alpha Inc",
    "time_zone": "UTC",
    "currency": "USD",
    "require_mfa_for_admins": False,
}


@pytest.fixture(autouse=True)
def _owner_and_admin_have_mfa(request: pytest.FixtureRequest) -> None:
    """Only someone with two-factor authentication may require it of owners and admins."""
    if "alpha" not in request.fixturenames:
        return
    alpha = request.getfixturevalue("alpha")
    for role in (Role.OWNER, Role.ADMIN):
        Authenticator.objects.create(
            user=alpha.members[role].user,
            type=Authenticator.Type.TOTP,
            data={"secret": "JBSWY3DPEHPK3PXP"},
        )


def _settings_of(tenant: Tenant) -> dict[str, object]:
    fresh = Tenant.objects.get(pk=tenant.pk)
    return {field: getattr(fresh, field) for field in ORIGINAL}


def _settings_events(tenant: Tenant) -> list[dict[str, object]]:
    with schema_context(tenant.schema_name):
        rows = AuditEvent.objects.filter(action="settings.updated").values(
            "actor_email", "data", "ip_address"
        )
        return [dict(row) for row in rows]


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owner_and_admin_update_settings_and_it_is_audited(alpha, role):
    actor = alpha.members[role].user
    client = workspace_client(actor, alpha.tenant)

    response = client.post("/settings/", GOOD, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    assert _settings_of(alpha.tenant) == {
        "name": "Alpha Holdings",
        "time_zone": "Europe/Rome",
        "currency": "EUR",
        "require_mfa_for_admins": True,
    }
    assert _settings_events(alpha.tenant) == [
        {
            "actor_email": actor.email,
            "data": {
                "name": {"from": "Alpha Inc", "to": "Alpha Holdings"},
                "time_zone": {"from": "UTC", "to": "Europe/Rome"},
                "currency": {"from": "USD", "to": "EUR"},
                "require_mfa_for_admins": {"from": False, "to": True},
            },
            "ip_address": "198.51.100.4",
        }
    ]
    page = client.get("/settings/")
    assert page.status_code == 200
    assert page.context["form"].initial["time_zone"] == "Europe/Rome"
    assert [str(m) for m in page.context["messages"]] == ["Settings saved."]


def test_audit_records_only_the_fields_that_changed(alpha):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.post("/settings/", {**ORIGINAL, "currency": "THB", "require_mfa_for_admins": ""})

    assert _settings_events(alpha.tenant)[0]["data"] == {"currency": {"from": "USD", "to": "THB"}}


def test_saving_unchanged_settings_writes_no_audit_row(alpha):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/settings/", {**ORIGINAL, "require_mfa_for_admins": ""})

    assert response.status_code == 302
    assert _settings_events(alpha.tenant) == []


@pytest.mark.parametrize(
    "role", [Role.MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.MARKETER, Role.READ_ONLY]
)
def test_other_roles_cannot_see_or_change_settings(alpha, role):
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", GOOD).status_code == 403
    assert _settings_of(alpha.tenant) == ORIGINAL
    assert _settings_events(alpha.tenant) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus_Mons", "Select a valid choice."),
        ("time_zone", "", "This field is required."),
        ("currency", "XBT", "Select a valid choice."),
        ("currency", "usd", "Select a valid choice."),
        ("name", "", "This field is required."),
        ("name", "   ", "This field is required."),
        ("name", "x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_bad_settings_name_the_field_and_save_nothing(alpha, field, value, message):
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.post("/settings/", {**GOOD, field: value})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert f'id="id_{field}_error"' in response.content.decode()
    assert _settings_of(alpha.tenant) == ORIGINAL
    assert _settings_events(alpha.tenant) == []


def test_name_of_exactly_100_characters_is_accepted(alpha):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/settings/", {**GOOD, "name": "ß" * 100})
    assert response.status_code == 302
    assert _settings_of(alpha.tenant)["name"] == "ß" * 100


def test_unicode_and_html_names_are_stored_verbatim_and_escaped(alpha):
    name = "<img src=x onerror=alert(1)> Альфа ทดสอบ 阿尔法"
    client = workspace_client(alpha.owner.user, alpha.tenant)

    assert client.post("/settings/", {**GOOD, "name": name}).status_code == 302

    assert _settings_of(alpha.tenant)["name"] == name
    for path in ("/", "/settings/", "/audit/"):
        html = client.get(path).content.decode()
        assert "<img src=x onerror=alert(1)>" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt; Альфа ทดสอบ 阿尔法" in html, path


# --- audit log --------------------------------------------------------------------------------

BANGKOK = zoneinfo.ZoneInfo("Asia/Bangkok")


def _event(action: str, actor_email: str, when: datetime, marker: str) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_email=actor_email, action=action, target_repr=marker, created_at=when
    )


@pytest.fixture
def module_actions() -> Iterator[None]:
    """Actions a module would register at start-up."""
    codes = {
        "quote.accepted": "Quote accepted",
        "quote.declined": "Quote declined",
        "ticket.closed": "Ticket closed",
    }
    for code, label in codes.items():
        register_action(code, label, module="Test module")
    yield
    for code in codes:
        unregister_action(code)


@pytest.fixture
def events(alpha, module_actions) -> dict[str, AuditEvent]:
    """Five events in March 2024 around the Bangkok (UTC+7) day boundaries."""
    Tenant.objects.filter(pk=alpha.tenant.pk).update(time_zone="Asia/Bangkok")
    rows = [
        # 1 March 20:00 UTC is already 2 March 03:00 in Bangkok.
        ("e1", "quote.accepted", "ann", datetime(2024, 3, 1, 20, tzinfo=UTC)),
        ("e2", "quote.declined", "bob", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("e3", "quote.accepted", "bob", datetime(2024, 3, 5, 12, tzinfo=UTC)),
        # 9 March 17:30 UTC is 10 March 00:30 in Bangkok.
        ("e4", "ticket.closed", "ann", datetime(2024, 3, 9, 17, 30, tzinfo=UTC)),
        ("e5", "quote.accepted", "carol", datetime(2024, 3, 9, 16, tzinfo=UTC)),
    ]
    with schema_context(alpha.tenant.schema_name):
        return {
            marker: _event(action, f"{who}@alpha.example.com", when, marker)
            for marker, action, who, when in rows
        }


def _markers(html: str) -> list[str]:
    table = html.split('data-testid="audit"', 1)[1].split("</table>", 1)[0]
    return [
        marker
        for marker in re.findall(r'<td data-label="Target">(.*?)</td>', table)
        if re.fullmatch(r"e\d", marker)
    ]


def _audit(alpha, **query: str) -> str:
    response = workspace_client(alpha.owner.user, alpha.tenant).get("/audit/", query)
    assert response.status_code == 200
    return response.content.decode()


def test_audit_log_lists_newest_first(alpha, events):
    assert _markers(_audit(alpha)) == ["e4", "e5", "e3", "e1", "e2"]


def test_audit_log_filters_by_action(alpha, events):
    assert _markers(_audit(alpha, action="quote.accepted")) == ["e5", "e3", "e1"]
    assert _markers(_audit(alpha, action="ticket.closed")) == ["e4"]


def test_audit_log_filter_offers_registered_actions_by_module(alpha, events):
    html = _audit(alpha)
    assert '<optgroup label="Test module">' in html
    assert '<option value="quote.accepted">Quote accepted</option>' in html
    assert '<option value="member.role_changed">Role changed</option>' in html


def test_audit_log_refuses_an_action_nobody_registered(alpha, events):
    html = _audit(alpha, action="deal")
    assert "Select a valid choice. deal is not one of the available choices." in html


def test_audit_log_filters_by_actor(alpha, events):
    assert _markers(_audit(alpha, actor="ann@")) == ["e4", "e1"]
    assert _markers(_audit(alpha, actor="BOB@ALPHA")) == ["e3", "e2"]
    assert _markers(_audit(alpha, actor="nobody")) == []


def test_audit_log_date_range_uses_the_workspace_time_zone(alpha, events):
    assert _markers(_audit(alpha, date_from="2024-03-02", date_to="2024-03-09")) == [
        "e5",
        "e3",
        "e1",
    ]
    assert _markers(_audit(alpha, date_to="2024-03-01")) == ["e2"]
    assert _markers(_audit(alpha, date_from="2024-03-10")) == ["e4"]


def test_audit_log_combines_filters(alpha, events):
    html = _audit(alpha, action="quote.accepted", actor="bob", date_from="2024-03-02")
    assert _markers(html) == ["e3"]


def test_audit_log_with_an_invalid_date_shows_the_error_and_filters_nothing(alpha, events):
    html = _audit(alpha, date_from="not-a-date")
    assert "Enter a valid date." in html
    assert _markers(html) == ["e4", "e5", "e3", "e1", "e2"]


def test_audit_log_shows_times_in_the_workspace_time_zone(alpha, events):
    html = _audit(alpha, action="quote.accepted", actor="ann")

    with translation.override("en"):
        in_bangkok = formats.date_format(
            events["e1"].created_at.astimezone(BANGKOK), "SHORT_DATETIME_FORMAT"
        )
        in_utc = formats.date_format(events["e1"].created_at, "SHORT_DATETIME_FORMAT")
    assert in_bangkok == "03/02/2024 3 a.m."
    assert in_bangkok in html
    assert in_utc not in html


def test_audit_log_is_for_owner_and_admin_only(alpha, events):
    for role in (Role.MANAGER, Role.SALES_REP, Role.READ_ONLY):
        response = workspace_client(alpha.members[role].user, alpha.tenant).get("/audit/")
        assert response.status_code == 403, role
        assert b'data-testid="audit"' not in response.content
        assert b"ann@alpha.example.com" not in response.content
    assert (
        workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant).get("/audit/").status_code
        == 200
    )


def test_audit_log_shows_only_this_workspace(alpha, bravo, events):
    html = workspace_client(bravo.owner.user, bravo.tenant).get("/audit/").content.decode()
    assert _markers(html) == []
    assert "workspace.created" in html


def test_audit_log_names_actions_in_words(alpha):
    owner = alpha.members[Role.OWNER]
    response = workspace_client(owner.user, alpha.tenant).get("/audit/")
    body = response.content.decode()
    assert "Workspace created <small" in body
    assert "<code>workspace.created</code>" in body
    assert '<option value="workspace.created">Workspace created</option>' in body


def test_allauth_signup_page_leads_to_the_trial_form(world, db):
    from tests.conftest import public_client

    response = public_client().get("/accounts/signup/?next=/pricing/")
    assert response.status_code == 302
    assert response["Location"] == "/signup/?next=/pricing/"
