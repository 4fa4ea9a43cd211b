from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone
from django_tenants.utils import schema_context

from crm_platform.errors import ServiceError
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.factories import InvitationFactory, MembershipFactory, UserFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

NOT_ALLOWED = "Your role does not allow this."
LAST_OWNER = "A workspace needs at least one Owner. Make someone else Owner first."


def _flash(response: TestResponse) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _audit(workspace: Workspace, action: str) -> list[AuditEvent]:
    with schema_context(workspace.tenant.schema_name):
        return list(AuditEvent.objects.filter(action=action))


def _role(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def _status(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).status


def _rows(response: TestResponse) -> dict[str, dict[str, str]]:
    """The members table as {email: {column label: text}}."""
    body = response.content.decode()
    rows = {}
    for email, row in re.findall(r'<tr data-member="([^"]*)">(.*?)</tr>', body, flags=re.S):
        cells = re.findall(r'<td data-label="([^"]*)">(.*?)</td>', row, flags=re.S)
        rows[html.unescape(email)] = {
            label: html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for label, text in cells
        }
    return rows


def _last_seen_text(membership: Membership) -> str:
    seen = Membership.objects.get(pk=membership.pk).last_seen_at
    if seen is None:
        return "—"
    return formats.date_format(timezone.localtime(seen), "SHORT_DATETIME_FORMAT")


def _post(workspace: Workspace, actor_role: str, path: str, **data: str) -> TestResponse:
    client = workspace_client(workspace.members[actor_role].user, workspace.tenant)
    response: TestResponse = client.post(path, data, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302
    assert response["Location"] == "/members/"
    return response


# --- the list -----------------------------------------------------------------------------


def test_members_page_lists_name_email_role_status_and_last_seen(alpha):
    # Browser tests on a live server commit the visits of their members; start from none.
    Membership.objects.filter(tenant=alpha.tenant).update(last_seen_at=None)
    seen = alpha.members[Role.SALES_REP]
    Membership.objects.filter(pk=seen.pk).update(
        last_seen_at=datetime(2024, 3, 5, 14, 7, tzinfo=UTC)
    )
    gone = alpha.members[Role.MARKETER]
    Membership.objects.filter(pk=gone.pk).update(status=Membership.Status.DEACTIVATED)
    viewer = alpha.members[Role.READ_ONLY]

    response = workspace_client(viewer.user, alpha.tenant).get("/members/")

    assert response.status_code == 200
    rows = _rows(response)
    assert set(rows) == {m.user.email for m in alpha.members.values()}
    for role, member in alpha.members.items():
        assert rows[member.user.email] == {
            "Name": member.user.full_name,
            "Email": member.user.email,
            "Role": str(Role(role).label),
            "Status": "Deactivated" if member == gone else "Active",
            "Last seen": _last_seen_text(member),
        }
    assert rows[seen.user.email]["Last seen"] == "03/05/2024 2:07 p.m."
    assert rows[alpha.owner.user.email]["Last seen"] == "—"
    assert rows[viewer.user.email]["Last seen"] != "—"


def test_member_names_are_rendered_escaped(alpha):
    member = alpha.members[Role.SALES_REP]
    User.objects.filter(pk=member.user_id).update(
        full_name='<script>alert("x")</script> Ирина 王芳'
    )

    response = workspace_client(alpha.owner.user, alpha.tenant).get("/members/")

    assert response.status_code == 200
    assert b"<script>alert(" not in response.content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Ирина 王芳".encode() in (
        response.content
    )


def test_members_page_query_count_does_not_grow_with_members(bravo, django_assert_num_queries):
    client = workspace_client(bravo.owner.user, bravo.tenant)
    MembershipFactory.create_batch(2, tenant=bravo.tenant, role=Role.SALES_REP)
    InvitationFactory.create(tenant=bravo.tenant, invited_by=bravo.owner.user)
    # The first request stamps "last seen" once; measure the ones after it.
    assert client.get("/members/").status_code == 200

    with CaptureQueriesContext(connection) as small:
        assert len(_rows(client.get("/members/"))) == 3

    MembershipFactory.create_batch(17, tenant=bravo.tenant, role=Role.MARKETER)
    InvitationFactory.create_batch(4, tenant=bravo.tenant, invited_by=bravo.owner.user)
    with django_assert_num_queries(len(small)):
        response = client.get("/members/")
    assert len(_rows(response)) == 20
    assert response.content.count(b'action="/invitations/') == 5 * 2


@pytest.mark.parametrize(
    "role", [Role.MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.MARKETER, Role.READ_ONLY]
)
def test_pending_invitations_are_shown_only_to_those_who_manage_members(alpha, role):
    services.invitation_create(actor=alpha.owner, email="pending@example.com", role=Role.ADMIN)

    hidden = workspace_client(alpha.members[role].user, alpha.tenant).get("/members/")
    shown = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant).get("/members/")

    assert hidden.status_code == shown.status_code == 200
    assert b"pending@example.com" not in hidden.content
    assert list(hidden.context["invitations"]) == []
    assert b"pending@example.com" in shown.content


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("actor_role", [Role.OWNER, Role.ADMIN])
def test_changing_a_role_is_audited_with_from_to_and_ip(alpha, actor_role):
    member = alpha.members[Role.SALES_REP]

    response = _post(alpha, actor_role, f"/members/{member.pk}/role/", role=Role.MANAGER)

    assert _flash(response) == ["Role changed."]
    assert _role(member) == Role.MANAGER
    (event,) = _audit(alpha, "member.role_changed")
    assert event.actor_email == alpha.members[actor_role].user.email
    assert event.target_id == str(member.pk)
    assert event.target_repr == member.user.email
    assert event.data == {"from": Role.SALES_REP, "to": Role.MANAGER}
    assert event.ip_address == "203.0.113.7"


@pytest.mark.parametrize(
    ("target_role", "new_role"),
    [(Role.OWNER, Role.ADMIN), (Role.OWNER, Role.READ_ONLY), (Role.SALES_REP, Role.OWNER)],
    ids=["demote-owner-to-admin", "demote-owner-to-read-only", "grant-owner"],
)
def test_admin_cannot_touch_an_owner_or_grant_owner(alpha, target_role, new_role):
    member = alpha.members[target_role]

    response = _post(alpha, Role.ADMIN, f"/members/{member.pk}/role/", role=new_role)

    assert _flash(response) == [NOT_ALLOWED]
    assert _role(member) == target_role
    assert _audit(alpha, "member.role_changed") == []


def test_owner_can_make_another_member_owner(alpha):
    member = alpha.members[Role.SALES_REP]

    response = _post(alpha, Role.OWNER, f"/members/{member.pk}/role/", role=Role.OWNER)

    assert _flash(response) == ["Role changed."]
    assert _role(member) == Role.OWNER
    assert _role(alpha.owner) == Role.OWNER
    (event,) = _audit(alpha, "member.role_changed")
    assert event.data == {"from": Role.SALES_REP, "to": Role.OWNER}


def test_an_invalid_role_is_refused(alpha):
    member = alpha.members[Role.SALES_REP]

    response = _post(alpha, Role.OWNER, f"/members/{member.pk}/role/", role="janitor")

    assert _flash(response) == ["Choose a valid role."]
    assert _role(member) == Role.SALES_REP
    assert _audit(alpha, "member.role_changed") == []


def test_last_owner_cannot_demote_themselves(alpha):
    owner = alpha.owner

    response = _post(alpha, Role.OWNER, f"/members/{owner.pk}/role/", role=Role.ADMIN)

    assert _flash(response) == [LAST_OWNER]
    assert _role(owner) == Role.OWNER
    assert _audit(alpha, "member.role_changed") == []


def test_last_owner_cannot_deactivate_themselves(alpha):
    owner = alpha.owner

    response = _post(alpha, Role.OWNER, f"/members/{owner.pk}/deactivate/")

    assert _flash(response) == ["You cannot deactivate yourself."]
    assert _status(owner) == Membership.Status.ACTIVE
    assert _audit(alpha, "member.deactivated") == []


def _second_owner(alpha: Workspace) -> Membership:
    second = MembershipFactory.create(tenant=alpha.tenant, role=Role.OWNER)
    # The acting membership as a request would hold it: loaded before the other change lands.
    return Membership.objects.select_related("user", "tenant").get(pk=second.pk)


def test_two_owners_deactivating_each_other_leave_the_last_one_active(alpha):
    first = Membership.objects.select_related("user", "tenant").get(pk=alpha.owner.pk)
    second = _second_owner(alpha)
    services.member_deactivate(actor=first, member=second)

    with pytest.raises(ServiceError) as refused:
        services.member_deactivate(actor=second, member=first)

    # The second owner's own seat is re-read under the lock: deactivated, it may do nothing.
    assert refused.value.message == "Your role does not allow this."
    assert refused.value.code == "permission_denied"
    assert _status(first) == Membership.Status.ACTIVE
    assert [e.target_id for e in _audit(alpha, "member.deactivated")] == [str(second.pk)]


def test_two_owners_demoting_each_other_leave_the_last_one_owner(alpha):
    first = Membership.objects.select_related("user", "tenant").get(pk=alpha.owner.pk)
    second = _second_owner(alpha)
    services.member_change_role(actor=first, member=second, role=Role.ADMIN)

    with pytest.raises(ServiceError) as refused:
        services.member_change_role(actor=second, member=first, role=Role.ADMIN)

    # Re-read under the lock, the second owner is an Admin now and cannot touch an Owner.
    assert refused.value.message == "Your role does not allow this."
    assert _role(first) == Role.OWNER
    assert [e.target_id for e in _audit(alpha, "member.role_changed")] == [str(second.pk)]


# --- deactivation and reactivation --------------------------------------------------------


def test_member_cannot_deactivate_themselves(alpha):
    admin = alpha.members[Role.ADMIN]

    response = _post(alpha, Role.ADMIN, f"/members/{admin.pk}/deactivate/")

    assert _flash(response) == ["You cannot deactivate yourself."]
    assert _status(admin) == Membership.Status.ACTIVE
    assert _audit(alpha, "member.deactivated") == []


def test_deactivated_member_is_refused_on_the_next_request(alpha):
    member = alpha.members[Role.SALES_REP]
    their_browser = workspace_client(member.user, alpha.tenant)
    assert their_browser.get("/").status_code == 200

    response = _post(alpha, Role.ADMIN, f"/members/{member.pk}/deactivate/")

    assert _flash(response) == ["Member deactivated."]
    after = Membership.objects.get(pk=member.pk)
    assert after.status == Membership.Status.DEACTIVATED
    assert after.deactivated_at is not None
    (event,) = _audit(alpha, "member.deactivated")
    assert event.target_id == str(member.pk)
    assert event.ip_address == "203.0.113.7"

    refused = their_browser.get("/")
    assert refused.status_code == 403
    assert refused.templates[0].name == "app/deactivated.html"
    assert b"Your membership in Alpha Inc has been deactivated." in refused.content


def _fill_seats(alpha: Workspace, *, invitation_expires_in: timedelta) -> Membership:
    """Deactivate the sales rep and give the freed seat to an invitation."""
    member = alpha.members[Role.SALES_REP]
    Membership.objects.filter(pk=member.pk).update(
        status=Membership.Status.DEACTIVATED, deactivated_at=timezone.now()
    )
    InvitationFactory.create(
        tenant=alpha.tenant,
        invited_by=alpha.owner.user,
        expires_at=timezone.now() + invitation_expires_in,
    )
    active = Membership.objects.filter(tenant=alpha.tenant, status="active").count()
    Tenant.objects.filter(pk=alpha.tenant.pk).update(seat_limit=active + 1)
    return member


def test_reactivation_needs_a_free_seat(alpha):
    member = _fill_seats(alpha, invitation_expires_in=timedelta(days=3))

    response = _post(alpha, Role.ADMIN, f"/members/{member.pk}/reactivate/")

    assert _flash(response) == [
        "All 7 seats of your plan are in use. Deactivate a member, revoke an invitation or "
        "add seats to your plan."
    ]
    assert _status(member) == Membership.Status.DEACTIVATED
    assert _audit(alpha, "member.reactivated") == []


def test_an_expired_invitation_holds_no_seat(alpha):
    member = _fill_seats(alpha, invitation_expires_in=timedelta(seconds=-1))

    response = _post(alpha, Role.ADMIN, f"/members/{member.pk}/reactivate/")

    assert _flash(response) == ["Member reactivated."]
    after = Membership.objects.get(pk=member.pk)
    assert after.status == Membership.Status.ACTIVE
    assert after.deactivated_at is None
    (event,) = _audit(alpha, "member.reactivated")
    assert event.target_id == str(member.pk)


# --- ownership ----------------------------------------------------------------------------


def test_transferring_ownership_swaps_owner_and_admin(alpha):
    owner, target = alpha.owner, alpha.members[Role.MANAGER]

    response = _post(alpha, Role.OWNER, f"/members/{target.pk}/make-owner/")

    assert _flash(response) == ["Ownership transferred."]
    assert _role(target) == Role.OWNER
    assert _role(owner) == Role.ADMIN
    (event,) = _audit(alpha, "ownership.transferred")
    assert event.actor_email == owner.user.email
    assert event.target_id == str(target.pk)
    assert event.data == {"from": Role.MANAGER, "previous_owner": owner.user.email}
    assert event.ip_address == "203.0.113.7"


def test_ownership_cannot_go_to_a_deactivated_member(alpha):
    target = alpha.members[Role.MANAGER]
    Membership.objects.filter(pk=target.pk).update(status=Membership.Status.DEACTIVATED)

    response = _post(alpha, Role.OWNER, f"/members/{target.pk}/make-owner/")

    assert _flash(response) == ["Ownership can only go to an active member."]
    assert (_role(target), _role(alpha.owner)) == (Role.MANAGER, Role.OWNER)
    assert _audit(alpha, "ownership.transferred") == []


# --- forged requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data"),
    [("deactivate", {}), ("role", {"role": Role.READ_ONLY}), ("make-owner", {})],
)
def test_post_without_csrf_token_is_refused(alpha, action, data):
    member = alpha.members[Role.SALES_REP]
    client = workspace_client(alpha.owner.user, alpha.tenant, enforce_csrf=True)

    response = client.post(f"/members/{member.pk}/{action}/", data)

    assert response.status_code == 403
    after = Membership.objects.get(pk=member.pk)
    assert (after.role, after.status) == (Role.SALES_REP, Membership.Status.ACTIVE)
    assert _role(alpha.owner) == Role.OWNER
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action__startswith="member.").exists()
        assert not AuditEvent.objects.filter(action="ownership.transferred").exists()


def test_members_can_be_found_by_name_or_email_in_any_script(alpha):
    thai = UserFactory.create(email="somchai@alpha.example.com", full_name="สมชาย ใจดี")
    MembershipFactory.create(user=thai, tenant=alpha.tenant, role=Role.SALES_REP)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    by_name = client.get("/members/", {"q": "ใจดี"})
    by_email = client.get("/members/", {"q": "SOMCHAI@"})
    nobody = client.get("/members/", {"q": "'; DROP TABLE tenants_membership;--"})

    assert [m.user.email for m in by_name.context["members"]] == ["somchai@alpha.example.com"]
    assert [m.user.email for m in by_email.context["members"]] == ["somchai@alpha.example.com"]
    assert list(nobody.context["members"]) == []
    assert "No member matches." in nobody.content.decode()


def test_members_list_is_paginated(alpha):
    for index in range(55):
        MembershipFactory.create(
            user=UserFactory.create(email=f"bulk{index:02}@alpha.example.com"),
            tenant=alpha.tenant,
            role=Role.READ_ONLY,
        )
    client = workspace_client(alpha.owner.user, alpha.tenant)
    first = client.get("/members/")
    second = client.get("/members/", {"page": 2})
    total = len(alpha.members) + 55
    assert len(first.context["members"]) == 50
    assert len(second.context["members"]) == total - 50
    assert first.context["page"].paginator.count == total


@pytest.mark.parametrize("query", ["\x00", "a\x00b", "x" * 101])
def test_unusable_member_searches_list_everyone_instead_of_failing(alpha, query):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/members/", {"q": query})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == len(alpha.members)
