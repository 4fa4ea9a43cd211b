"""The @mention picker of the UI kit: its suggestions are the workspace's active members, best
matches first, escaped; the note field of a record page is a mention field; picking writes the
"@<email>" that the timeline stores as a structured mention and notifies."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm_modules.activities.models import Activity
from tenants.models import Membership, User
from tenants.notifications import user_group
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.factories import MembershipFactory, UserFactory
from tests.sales.factories import ContactFactory

URL = "/members/mentions/"


def _options(html: str) -> list[str]:
    return re.findall(r'data-mention="([^"]*)"', html)


def test_suggestions_are_active_members_best_matches_first(
    alpha: Workspace, bravo: Workspace
) -> None:
    starts = UserFactory.create(full_name="Zelda Petrova", email="zelda@alpha.example")
    contains = UserFactory.create(full_name="Anna Zeldovich", email="anna.z@alpha.example")
    gone = UserFactory.create(full_name="Zelda Rossi", email="rossi@alpha.example")
    MembershipFactory.create(tenant=alpha.tenant, user=starts, role=Role.SALES_REP)
    MembershipFactory.create(tenant=alpha.tenant, user=contains, role=Role.SALES_REP)
    MembershipFactory.create(
        tenant=alpha.tenant, user=gone, role=Role.SALES_REP, status=Membership.Status.DEACTIVATED
    )
    elsewhere = UserFactory.create(full_name="Zelda Other", email="zelda@bravo.example")
    MembershipFactory.create(tenant=bravo.tenant, user=elsewhere, role=Role.SALES_REP)

    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    response = client.get(URL, {"q": "zeld", "listbox": "note-mentions"})
    assert response.status_code == 200
    html = response.content.decode()
    assert _options(html) == ["zelda@alpha.example", "anna.z@alpha.example"]
    assert 'id="note-mentions-1"' in html
    assert 'role="option"' in html


def test_suggestions_in_cyrillic_thai_and_chinese(alpha: Workspace) -> None:
    for name, email in [
        ("Ольга Смирнова", "olga@alpha.example"),
        ("สมหญิง ใจดี", "somying@alpha.example"),
        ("王芳", "wang@alpha.example"),
    ]:
        user = UserFactory.create(full_name=name, email=email)
        MembershipFactory.create(tenant=alpha.tenant, user=user, role=Role.SALES_REP)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert _options(client.get(URL, {"q": "Смир"}).content.decode()) == ["olga@alpha.example"]
    assert _options(client.get(URL, {"q": "ใจดี"}).content.decode()) == ["somying@alpha.example"]
    assert _options(client.get(URL, {"q": "芳"}).content.decode()) == ["wang@alpha.example"]
    none = client.get(URL, {"q": "zzzz"}).content.decode()
    assert _options(none) == []
    assert "No member matches." in none


def test_names_are_escaped_and_a_bad_listbox_id_is_not_echoed(alpha: Workspace) -> None:
    user = UserFactory.create(full_name='<img src=x onerror="alert(1)">', email="x@alpha.example")
    MembershipFactory.create(tenant=alpha.tenant, user=user, role=Role.SALES_REP)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    html = client.get(URL, {"q": "img", "listbox": '"><script>'}).content.decode()
    assert "<img" not in html
    assert "&lt;img src=x" in html
    assert "<script>" not in html
    assert 'id="mention-1"' in html


def test_suggestions_take_constant_queries_and_at_most_eight(alpha: Workspace) -> None:
    for n in range(12):
        user = UserFactory.create(full_name=f"Team {n}", email=f"team{n}@alpha.example")
        MembershipFactory.create(tenant=alpha.tenant, user=user, role=Role.SALES_REP)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.get(URL, {"q": "team"})
    with CaptureQueriesContext(connection) as queries:
        html = client.get(URL, {"q": "team"}).content.decode()
    assert len(_options(html)) == 8
    with CaptureQueriesContext(connection) as more:
        client.get(URL, {"q": "alpha"})
    assert len(more) == len(queries)


def test_anonymous_and_other_workspaces_get_nothing(alpha: Workspace, bravo: Workspace) -> None:
    from django.test import Client

    anonymous = Client(HTTP_HOST=alpha.host).get(URL, {"q": "a"})
    assert anonymous.status_code == 302
    outsider = workspace_client(bravo.owner.user, alpha.tenant).get(URL, {"q": "a"})
    assert outsider.status_code == 404


def test_the_note_field_of_a_record_page_is_a_mention_field(alpha: Workspace) -> None:
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    contact = ContactFactory.create(owner=alpha.owner.user)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    html = client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    [textarea] = re.findall(r"<textarea[^>]*name=\"body\"[^>]*>", html)
    assert f'data-mention="{reverse("mention_suggestions")}"' in textarea
    assert 'aria-autocomplete="list"' in textarea
    assert "js/mentions.js" in html


def test_a_picked_mention_is_stored_by_member_and_notifies_with_a_link(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    manager = alpha.members[Role.MANAGER]
    contact = ContactFactory.create(owner=alpha.owner.user, first_name="Giulia")
    layer = get_channel_layer()
    assert layer is not None
    group = user_group(schema_name=alpha.tenant.schema_name, user_id=manager.user_id)
    channel = "probe-mention-picker"
    async_to_sync(layer.group_add)(group, channel)
    try:
        email = User.objects.get(pk=manager.user_id).email
        client = workspace_client(alpha.owner.user, alpha.tenant)
        # What the picker writes: "@<email> " where "@" and a few letters were typed.
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/sales/contacts/{contact.pk}/log/",
                {"kind": "note", "body": f"Please call back @{email} today"},
            )
        assert response.status_code == 302
        assert Activity.objects.get().data == {"mentions": [manager.user_id]}
        pushed = async_to_sync(layer.receive)(channel)
        assert pushed["payload"]["url"].endswith(f"/sales/contacts/{contact.pk}/")
    finally:
        async_to_sync(layer.group_discard)(group, channel)
