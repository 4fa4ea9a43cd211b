"""The platform staff console (/admin/ on the public host): superusers only; lists live
workspaces with their plan, state and seats; suspends, reactivates and deletes workspaces."""

from __future__ import annotations

import re

from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.utils import formats, timezone
from django_tenants.utils import schema_context

from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Domain, Invitation, Membership, Tenant, User
from tenants.roles import Role
from tests.conftest import public_client, workspace_client
from tests.factories import UserFactory
from tests.platform.staff import staff_client

TENANTS = "/admin/tenants/tenant/"


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def _row(html: str, slug: str) -> dict[str, str]:
    """The cells of the change-list row whose slug column is ``slug``, keyed by column."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        cells = dict(re.findall(r'<t[dh] class="field-([a-z_]+)[^"]*">(.*?)</t[dh]>', row))
        if cells.get("slug") == slug:
            return {key: re.sub(r"<[^>]+>", "", value) for key, value in cells.items()}
    raise AssertionError(f"no row for {slug}")


# --- who may enter ------------------------------------------------------------------------------


def test_anonymous_is_sent_to_admin_login(world, db):
    for path in ("/admin/", TENANTS):
        response = public_client().get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={path}"


def test_staff_user_without_superuser_is_refused(world, db):
    staff = UserFactory.create(is_staff=True, is_superuser=False)
    client = public_client(staff)
    for path in ("/admin/", TENANTS):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={path}"


def test_staff_user_cannot_run_admin_actions(alpha):
    staff = UserFactory.create(is_staff=True, is_superuser=False)
    response = public_client(staff).post(
        TENANTS, {"action": "suspend", "_selected_action": [alpha.tenant.pk]}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Tenant.objects.get(pk=alpha.tenant.pk).state == Tenant.State.ACTIVE


def test_admin_is_not_served_on_a_workspace_host(alpha):
    owner = alpha.owner.user
    User.objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    owner.refresh_from_db()
    client = workspace_client(owner, alpha.tenant)

    assert client.get("/admin/").status_code == 404
    assert client.get(TENANTS).status_code == 404
    assert client.get("/admin/login/").status_code == 404


# --- the list -----------------------------------------------------------------------------------


def test_superuser_sees_live_workspaces_with_plan_state_seats_and_created(
    committed_spare, alpha, bravo
):
    spare = committed_spare
    response = staff_client().get(TENANTS)

    assert response.status_code == 200
    html = response.content.decode()
    alpha_row = _row(html, "alpha")
    assert alpha_row["name"] == "Alpha Inc"
    assert alpha_row["plan"] == "Trial"
    assert alpha_row["state"] == "Active"
    assert alpha_row["seats"] == f"{len(Role.values)} / 10"
    assert alpha_row["created_at"] == formats.date_format(
        timezone.localtime(alpha.tenant.created_at), "DATETIME_FORMAT"
    )
    assert _row(html, "bravo")["seats"] == "1 / 10"
    assert spare.schema_name not in html
    assert list(response.context["cl"].result_list) == list(
        Tenant.objects.exclude(state=Tenant.State.SPARE).order_by("-created_at")
    )
    assert spare not in response.context["cl"].result_list


def test_seats_count_pending_invitations_and_skip_deactivated_members(alpha):
    client = staff_client()
    members = len(Role.values)
    for email in ("newcomer@example.com", "another@example.com"):
        services.invitation_create(actor=alpha.owner, email=email, role=Role.MARKETER)
    assert _row(client.get(TENANTS).content.decode(), "alpha")["seats"] == f"{members + 2} / 10"

    Membership.objects.filter(pk=alpha.members[Role.READ_ONLY].pk).update(
        status=Membership.Status.DEACTIVATED
    )
    assert _row(client.get(TENANTS).content.decode(), "alpha")["seats"] == f"{members + 1} / 10"


def test_spare_workspace_cannot_be_opened_in_admin(committed_spare, db):
    spare = committed_spare
    response = staff_client().get(f"{TENANTS}{spare.pk}/change/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


# --- suspend and reactivate ---------------------------------------------------------------------


def test_suspend_makes_workspace_read_only_and_reactivate_restores_it(alpha):
    admin_client = staff_client()
    member = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)

    response = admin_client.post(
        TENANTS, {"action": "suspend", "_selected_action": [alpha.tenant.pk]}
    )
    assert response.status_code == 302
    assert Tenant.objects.get(pk=alpha.tenant.pk).state == Tenant.State.SUSPENDED

    page = member.get("/members/")
    assert page.status_code == 200
    assert b"This workspace is suspended and read-only." in page.content

    refused = member.post("/members/invite/", {"email": "late@example.com", "role": "marketer"})
    assert refused.status_code == 403
    assert refused.templates[0].name == "app/suspended.html"
    assert not Invitation.objects.filter(email="late@example.com").exists()
    settings_refused = member.post(
        "/settings/", {"name": "Renamed", "time_zone": "UTC", "currency": "USD"}
    )
    assert settings_refused.status_code == 403
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Inc"

    response = admin_client.post(
        TENANTS, {"action": "reactivate", "_selected_action": [alpha.tenant.pk]}
    )
    assert response.status_code == 302
    assert Tenant.objects.get(pk=alpha.tenant.pk).state == Tenant.State.ACTIVE

    accepted = member.post("/members/invite/", {"email": "late@example.com", "role": "marketer"})
    assert accepted.status_code == 302
    assert Invitation.objects.filter(email="late@example.com", tenant=alpha.tenant).count() == 1
    with schema_context(alpha.tenant.schema_name):
        actions = list(
            AuditEvent.objects.filter(action__startswith="workspace.")
            .order_by("created_at", "id")
            .values_list("action", flat=True)
        )
    assert actions == ["workspace.created", "workspace.suspended", "workspace.reactivated"]


def test_suspending_a_suspended_workspace_reports_an_error_and_changes_nothing(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(state=Tenant.State.SUSPENDED)
    response = staff_client().post(
        TENANTS, {"action": "suspend", "_selected_action": [alpha.tenant.pk]}, follow=True
    )
    assert "Only an active workspace can be suspended." in response.content.decode()
    assert Tenant.objects.get(pk=alpha.tenant.pk).state == Tenant.State.SUSPENDED
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action="workspace.suspended").exists()


# --- delete ---------------------------------------------------------------------------------------


def test_delete_asks_for_confirmation_then_drops_schema_domains_and_memberships(world, db):
    doomed = services.workspace_signup(
        company_name="Doomed Ltd",
        slug="doomed",
        full_name="Dee Oomed",
        email="dee@doomed.example.com",
        password="a-long-enough-passphrase",
    )
    tenant, owner = doomed.tenant, doomed.user
    schema = tenant.schema_name
    admin_client = staff_client()

    confirm = admin_client.post(
        TENANTS, {"action": "delete_workspaces", "_selected_action": [tenant.pk]}
    )

    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Delete these workspaces and all their data?" in page
    assert f"Doomed Ltd — doomed ({schema})" in page
    assert Tenant.objects.filter(pk=tenant.pk).exists()
    assert _schema_exists(schema)

    done = admin_client.post(
        TENANTS,
        {"action": "delete_workspaces", "_selected_action": [tenant.pk], "confirm": "yes"},
    )

    assert done.status_code == 302
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Domain.objects.filter(domain="doomed.localhost").exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    assert not _schema_exists(schema)
    # Accounts are global: the person keeps their login.
    assert User.objects.filter(pk=owner.pk).exists()
    assert Tenant.objects.filter(slug="alpha").exists()
    # The platform keeps a record of who deleted what.
    entry = LogEntry.objects.get(object_id=str(tenant.pk), action_flag=DELETION)
    assert entry.object_repr == "Doomed Ltd"
    assert entry.user.is_superuser


def test_delete_selected_and_per_object_delete_are_not_offered(alpha):
    client = staff_client()
    response = client.post(
        TENANTS, {"action": "delete_selected", "_selected_action": [alpha.tenant.pk]}
    )
    assert response.status_code == 302
    assert [str(m) for m in client.get(TENANTS).context["messages"]] == ["No action selected."]
    assert Tenant.objects.filter(pk=alpha.tenant.pk).exists()
    assert client.get(f"{TENANTS}{alpha.tenant.pk}/delete/").status_code == 403
    assert _schema_exists(alpha.tenant.schema_name)


def test_tenant_list_query_count_does_not_grow_with_workspaces(
    world, db, django_assert_max_num_queries
):
    from tenants.selectors import tenant_list_with_seats

    client = staff_client()
    with django_assert_max_num_queries(14) as few:
        assert client.get("/admin/tenants/tenant/").status_code == 200
    # Rows only (bulk_create skips schema creation): the list page never enters a schema.
    Tenant.objects.bulk_create(
        Tenant(schema_name=f"ws_extra_{i}", state=Tenant.State.ACTIVE, slug=f"extra-{i}")
        for i in range(5)
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/admin/tenants/tenant/").status_code == 200
    seats = {t.slug: t.seats_taken for t in tenant_list_with_seats()}
    assert seats["extra-0"] == 0
