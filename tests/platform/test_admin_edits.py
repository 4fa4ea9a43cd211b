"""The platform admin cannot bypass the services: seats, invitations and domains are read-only
there, the slug cannot drift from its Domain, accounts are not deleted from it, and names typed
there pass the same validation as everywhere else. Integrity errors map to fields by constraint
name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_platform.errors import ServiceError, violated_constraint
from tenants.audit.models import AuditEvent
from tenants.models import Domain, Invitation, Membership, Tenant, User
from tenants.roles import Role
from tenants.services import provisioning
from tests.conftest import public_client
from tests.factories import InvitationFactory
from tests.platform.staff import admin_edit as _edit
from tests.platform.staff import staff_client, superuser


def test_admin_cannot_demote_or_deactivate_the_last_owner(alpha):
    owner = alpha.owner
    response = _edit(
        staff_client(),
        f"/admin/tenants/membership/{owner.pk}/change/",
        role=Role.ADMIN,
        status="deactivated",
    )
    assert response.status_code in (302, 403)
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    assert Membership.objects.get(pk=owner.pk).status == Membership.Status.ACTIVE


def test_admin_cannot_delete_a_seat_or_an_account(alpha):
    client = staff_client()
    owner = alpha.owner
    assert (
        client.post(f"/admin/tenants/membership/{owner.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert (
        client.post(f"/admin/tenants/user/{owner.user_id}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert User.objects.filter(pk=owner.user_id).exists()


def test_admin_cannot_add_seats_or_invitations(alpha):
    client = staff_client()
    assert client.get("/admin/tenants/membership/add/").status_code == 403
    assert client.get("/admin/tenants/invitation/add/").status_code == 403


def test_admin_cannot_revive_or_edit_an_invitation(alpha):
    invitation = InvitationFactory.create(
        tenant=alpha.tenant, invited_by=alpha.owner.user, status=Invitation.Status.REVOKED
    )
    _edit(
        staff_client(),
        f"/admin/tenants/invitation/{invitation.pk}/change/",
        role=Role.OWNER,
        status="pending",
    )
    row = Invitation.objects.get(pk=invitation.pk)
    assert (row.status, row.role) == (Invitation.Status.REVOKED, Role.SALES_REP)


def test_slug_cannot_drift_from_its_domain_through_the_admin(alpha):
    tenant = alpha.tenant
    response = _edit(staff_client(), f"/admin/tenants/tenant/{tenant.pk}/change/", slug="renamed")
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).slug == "alpha"
    assert list(Domain.objects.filter(tenant=tenant).values_list("domain", flat=True)) == [
        "alpha.localhost"
    ]


def test_domains_are_read_only_in_the_admin(alpha):
    domain = Domain.objects.get(tenant=alpha.tenant)
    client = staff_client()
    _edit(client, f"/admin/tenants/domain/{domain.pk}/change/", domain="elsewhere.localhost")
    assert (
        client.post(f"/admin/tenants/domain/{domain.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Domain.objects.get(pk=domain.pk).domain == "alpha.localhost"


def test_workspace_name_typed_in_the_admin_is_validated(alpha):
    tenant = alpha.tenant
    response = _edit(
        staff_client(), f"/admin/tenants/tenant/{tenant.pk}/change/", name="Evil\x1b[31m Inc"
    )
    assert response.status_code == 200
    assert Tenant.objects.get(pk=tenant.pk).name == "Alpha Inc"


def _staff_events(tenant: Tenant) -> list[AuditEvent]:
    with schema_context(tenant.schema_name):
        return list(AuditEvent.objects.filter(action="workspace.changed_by_staff"))


def test_staff_edits_of_plan_seats_and_trial_are_audited_with_their_values(alpha):
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    staff = superuser()
    old_trial = tenant.trial_ends_at
    assert old_trial is not None
    new_trial = (old_trial + timedelta(days=30)).replace(microsecond=0)
    local = timezone.localtime(new_trial)

    response = _edit(
        staff_client(staff),
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        plan="professional",
        seat_limit=25,
        trial_ends_at_0=local.date().isoformat(),
        trial_ends_at_1=local.time().isoformat(),
    )

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.plan, tenant.seat_limit, tenant.trial_ends_at) == ("professional", 25, new_trial)
    # In the workspace's own audit log: who at Rapport changed what, from and to.
    [event] = _staff_events(tenant)
    assert (event.actor_id, event.actor_email) == (staff.pk, staff.email)
    assert event.data == {
        "plan": {"from": "trial", "to": "professional"},
        "seat_limit": {"from": 10, "to": 25},
        "trial_ends_at": {"from": old_trial.isoformat(), "to": new_trial.isoformat()},
    }
    assert event.ip_address == "127.0.0.1"
    # And in the platform's trail, which outlives the workspace.
    entry = LogEntry.objects.get(object_id=str(tenant.pk), user=staff)
    assert entry.action_flag == CHANGE
    assert "plan: trial → professional" in entry.get_change_message()
    assert "seat_limit: 10 → 25" in entry.get_change_message()


def test_a_staff_save_without_changes_records_nothing(alpha):
    tenant = alpha.tenant
    response = _edit(staff_client(), f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert response.status_code == 302
    assert _staff_events(tenant) == []


def test_a_refused_staff_edit_records_nothing(alpha):
    tenant = alpha.tenant
    response = _edit(staff_client(), f"/admin/tenants/tenant/{tenant.pk}/change/", seat_limit=-1)
    assert response.status_code == 200
    assert Tenant.objects.get(pk=tenant.pk).seat_limit == 10
    assert _staff_events(tenant) == []


# --- integrity errors -----------------------------------------------------------------------------


def _violation(create) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        create()
    return caught.value


def test_integrity_errors_map_by_constraint_name_not_by_text(alpha):
    email = "twice@example.com"
    InvitationFactory.create(tenant=alpha.tenant, email=email, invited_by=alpha.owner.user)
    # Its message names the column "email", but it is no account's address: not mapped.
    other = _violation(lambda: InvitationFactory.create(tenant=alpha.tenant, email=email))
    assert violated_constraint(other) == "invitation_one_pending_per_email"
    with pytest.raises(IntegrityError):
        provisioning._integrity_to_error(other)

    taken_slug = _violation(
        lambda: Domain.objects.create(domain="alpha.localhost", tenant=alpha.tenant)
    )
    error = provisioning._integrity_to_error(taken_slug)
    assert (error.field, error.code) == ("slug", "taken")

    taken_email = _violation(lambda: User.objects.create_user(alpha.owner.user.email.upper()))
    assert violated_constraint(taken_email) in ("user_email_ci_unique", "tenants_user_email_key")
    error = provisioning._integrity_to_error(taken_email)
    assert isinstance(error, ServiceError)
    assert (error.field, error.code) == ("email", "account_exists")


def test_anonymous_never_reaches_admin_pages(world, db):
    assert public_client().get("/admin/tenants/membership/").status_code == 302
