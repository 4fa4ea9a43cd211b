"""The module kit: a module plugs in through the registries alone, and the one permission
question answers from role, plan, workspace state and record scope. The test-only module
``tests.kit_module`` is the module under test."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from crm_platform.asgi import application
from tenants import capabilities, navigation
from tenants.capabilities import Scope
from tenants.live import publish
from tenants.models import Membership, Plan, Team, Tenant
from tenants.permissions import allows, scope_filter
from tenants.roles import Role
from tests.conftest import Workspace, World, workspace_client
from tests.kit_module.models import Note
from tests.kit_module.module import EDIT_NOTES, NOTES_TOPIC, VIEW_NOTES


def _fresh(membership: Membership) -> Membership:
    """A copy to change in memory: the workspace fixtures are shared by the whole run."""
    return Membership.objects.select_related("tenant", "user").get(pk=membership.pk)


def _note(workspace: Workspace, owner: Membership | None, title: str = "n") -> Note:
    with schema_context(workspace.tenant.schema_name):
        return Note.objects.create(title=title, owner=owner.user if owner else None)


# --- registries -----------------------------------------------------------------------------


def test_module_navigation_entry_is_shown_to_roles_that_may_open_it(alpha: Workspace) -> None:
    for role in Role.values:
        html = workspace_client(alpha.members[role].user, alpha.tenant).get("/").content.decode()
        shown = 'data-nav-entry="notes"' in html
        assert shown is (role in VIEW_NOTES.roles), role


def test_module_page_is_marked_current_in_the_navigation(alpha: Workspace) -> None:
    html = workspace_client(alpha.owner.user, alpha.tenant).get("/notes/").content.decode()
    assert '<a class="nav-link" href="/notes/" data-nav-entry="notes" aria-current="page">' in html
    assert '<a class="nav-link" href="/" data-nav-entry="home">' in html


def test_navigation_is_ordered_by_the_registered_order() -> None:
    keys = [entry.key for entry in navigation.all_entries()]
    assert keys[:2] == ["home", "notes"]
    assert keys[-5:] == ["members", "roles", "settings", "billing", "audit_log"]


def test_registering_a_navigation_key_twice_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):
        navigation.register("notes", label="x", icon="x", url_name="home", capability=VIEW_NOTES)


def test_a_navigation_entry_with_an_icon_that_is_not_vendored_is_refused() -> None:
    with pytest.raises(ValueError, match="icon 'notebook' is not vendored"):
        navigation.register(
            "diary", label="x", icon="notebook", url_name="home", capability=VIEW_NOTES
        )


def test_a_scope_for_a_role_without_the_capability_is_refused() -> None:
    with pytest.raises(ValueError, match="Scopes for roles without capability"):
        capabilities.register(
            "x.scoped", label="x", module="x", roles={Role.OWNER}, scopes={Role.MARKETER: Scope.OWN}
        )


def test_crm_modules_are_discovered_from_the_package() -> None:
    found = sorted(
        f"crm_modules.{p.parent.name}"
        for p in (settings.BASE_DIR / "crm_modules").glob("*/apps.py")
    )
    assert found == settings.CRM_MODULES
    assert set(found) <= set(settings.TENANT_APPS)


# --- the one permission question --------------------------------------------------------------


def test_a_deactivated_member_is_allowed_nothing(alpha: Workspace) -> None:
    owner = _fresh(alpha.owner)
    owner.status = Membership.Status.DEACTIVATED
    assert not allows(owner, capabilities.USE_WORKSPACE)


def test_a_capability_outside_the_plan_is_refused(alpha: Workspace) -> None:
    owner = _fresh(alpha.owner)
    for plan, allowed in [
        (Plan.TRIAL, True),
        (Plan.STARTER, False),
        (Plan.PROFESSIONAL, True),
        (Plan.ENTERPRISE, True),
    ]:
        owner.tenant.plan = plan
        assert allows(owner, EDIT_NOTES) is allowed, plan
        assert allows(owner, VIEW_NOTES) is True


def test_a_starter_workspace_is_refused_a_professional_capability_in_every_channel(
    alpha: Workspace,
) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.STARTER)
    note = _note(alpha, alpha.owner)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    page = client.post(f"/notes/{note.pk}/rename/", {"title": "x"})
    api = client.patch(f"/api/v1/notes/{note.pk}/", {"title": "x"}, content_type="application/json")

    assert page.status_code == 403
    assert api.status_code == 403
    with schema_context(alpha.tenant.schema_name):
        assert Note.objects.get(pk=note.pk).title == "n"


def test_a_read_only_workspace_allows_reading_but_no_writes(alpha: Workspace) -> None:
    owner = _fresh(alpha.owner)
    owner.tenant.state = Tenant.State.SUSPENDED
    assert allows(owner, VIEW_NOTES)
    assert not allows(owner, EDIT_NOTES)
    assert allows(owner, capabilities.MANAGE_SETTINGS, reading=True)
    assert not allows(owner, capabilities.MANAGE_SETTINGS)


def test_own_scope_reaches_only_the_members_records(alpha: Workspace) -> None:
    rep, other = alpha.members[Role.SALES_REP], alpha.members[Role.MARKETER]
    mine, theirs, nobodys = _note(alpha, rep), _note(alpha, other), _note(alpha, None)

    assert allows(rep, VIEW_NOTES, mine)
    assert not allows(rep, VIEW_NOTES, theirs)
    assert not allows(rep, VIEW_NOTES, nobodys)
    assert allows(alpha.owner, VIEW_NOTES, theirs)
    assert allows(alpha.owner, VIEW_NOTES, nobodys)
    with schema_context(alpha.tenant.schema_name):
        visible = scope_filter(Note.objects.all(), rep, VIEW_NOTES, owner_field="owner")
        assert set(visible) == {mine}


def test_team_scope_reaches_the_teams_records(alpha: Workspace) -> None:
    manager, rep, other = (alpha.members[r] for r in (Role.MANAGER, Role.SALES_REP, Role.MARKETER))
    team = Team.objects.create(tenant=alpha.tenant, name="Milan")
    Membership.objects.filter(pk__in=[manager.pk, rep.pk]).update(team=team)
    manager = _fresh(manager)
    reps_note, others_note = _note(alpha, rep), _note(alpha, other)

    assert manager.team_id == team.pk
    assert allows(manager, VIEW_NOTES, reps_note)
    assert not allows(manager, VIEW_NOTES, others_note)
    with schema_context(alpha.tenant.schema_name):
        visible = scope_filter(Note.objects.all(), manager, VIEW_NOTES, owner_field="owner")
        assert set(visible) == {reps_note}


def test_a_manager_without_a_team_reaches_only_their_own(alpha: Workspace) -> None:
    manager = alpha.members[Role.MANAGER]
    mine, theirs = _note(alpha, manager), _note(alpha, alpha.owner)
    assert allows(manager, VIEW_NOTES, mine)
    assert not allows(manager, VIEW_NOTES, theirs)


def test_the_list_page_shows_exactly_what_the_scope_reaches(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    mine, theirs = _note(alpha, rep, "mine"), _note(alpha, alpha.owner, "theirs")

    rep_html = workspace_client(rep.user, alpha.tenant).get("/notes/").content.decode()
    owner_html = workspace_client(alpha.owner.user, alpha.tenant).get("/notes/").content.decode()

    assert f'data-note="{mine.pk}"' in rep_html
    assert f'data-note="{theirs.pk}"' not in rep_html
    assert f'data-note="{mine.pk}"' in owner_html
    assert f'data-note="{theirs.pk}"' in owner_html


def test_a_template_asks_the_same_question(alpha: Workspace) -> None:
    from django.template import Context, Template

    template = Template(
        '{% load workspace %}{% if m|allows:"kit_module.edit_notes" %}yes{% else %}no{% endif %}'
    )
    assert template.render(Context({"m": alpha.owner})) == "yes"
    assert template.render(Context({"m": alpha.members[Role.MANAGER]})) == "no"


# --- live topics ----------------------------------------------------------------------------


@database_sync_to_async
def _session(membership: Membership) -> str:
    client = workspace_client(membership.user, membership.tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


async def _socket(world: World, role: str) -> WebsocketCommunicator:
    host = world.alpha.host
    key = await _session(world.alpha.members[role])
    socket = WebsocketCommunicator(
        application,
        "/ws/notifications/",
        headers=[
            (b"host", host.encode()),
            (b"origin", f"http://{host}".encode()),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()),
        ],
    )
    connected, _ = await socket.connect(timeout=5)
    assert connected
    hello = await socket.receive_json_from(timeout=5)
    assert hello["event"] == "hello"
    return socket


@pytest.mark.django_db
async def test_a_topic_event_reaches_members_who_may_hear_it_and_nobody_else(world: World) -> None:
    rep = await _socket(world, Role.SALES_REP)
    agent = await _socket(world, Role.SUPPORT_AGENT)

    def send() -> None:
        with transaction.atomic():
            publish(
                tenant=world.alpha.tenant,
                topic=NOTES_TOPIC,
                event="note.renamed",
                payload={"id": 7},
            )

    await database_sync_to_async(send)()

    assert await rep.receive_json_from(timeout=5) == {
        "event": "note.renamed",
        "payload": {"id": 7},
        "topic": "notes",
    }
    assert await agent.receive_nothing(timeout=0.5)
    await rep.disconnect()
    await agent.disconnect()
