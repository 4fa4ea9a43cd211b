"""Changes that publish no live event still make the dashboard's cached cards stale at once:
every audited change replaces the workspace's card generation after commit (a time zone, a
role, a stage's probability), except the few that change no number (a sign-in, an export); and
a card's key carries the workspace's date, so relative periods move on at midnight."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.reporting.card_cache import card_key, generation
from crm_modules.sales.models import Stage
from crm_modules.sales.services import stage_update
from tenants.audit.services import audit_record
from tenants.roles import Role
from tenants.services.members import member_change_role
from tenants.services.workspace import workspace_update_settings
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.django_db


def _generation(workspace: Workspace) -> str:
    with schema_context(workspace.tenant.schema_name):
        return generation()


def _funnel_html(client: Client) -> str:
    return client.get("/reporting/chart/?key=pipeline").content.decode()


def test_a_time_zone_change_makes_cards_stale_at_once(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    before, other = _generation(alpha), _generation(bravo)
    owner = fresh(alpha.owner)
    with django_capture_on_commit_callbacks(execute=True):
        workspace_update_settings(
            actor=owner,
            name=owner.tenant.name,
            time_zone="Asia/Bangkok" if owner.tenant.time_zone != "Asia/Bangkok" else "UTC",
            currency=owner.tenant.currency,
            require_mfa_for_admins=owner.tenant.require_mfa_for_admins,
        )
    assert _generation(alpha) != before
    # Only the changed workspace's cards.
    assert _generation(bravo) == other


def test_a_role_change_makes_cards_stale_at_once(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    before = _generation(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        member_change_role(
            actor=fresh(alpha.owner), member=fresh(alpha.members[Role.SALES_REP]), role="manager"
        )
    assert _generation(alpha) != before


def test_a_stage_probability_change_refreshes_the_cached_card(
    seeded: dict[str, Any], alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    _funnel_html(client)
    before = _generation(alpha)
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    stage = Stage.objects.get(pk=seeded["stages"]["Proposal"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        stage_update(
            actor=fresh(alpha.owner),
            pipeline=seeded["pipeline"],
            stage_id=stage.pk,
            name="Offer sent",
            probability=stage.probability,
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert _generation(alpha) != before
    assert "Offer sent" in _funnel_html(client)


def test_sign_ins_and_exports_leave_the_cards_alone(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    before = _generation(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        for action in ("member.signed_in", "records.exported", "report.exported"):
            audit_record(tenant=alpha.tenant, actor=alpha.owner.user, action=action)
    assert _generation(alpha) == before


def test_the_card_key_carries_the_workspace_date(alpha: Workspace) -> None:
    with schema_context(alpha.tenant.schema_name):
        key = card_key(fresh(alpha.owner), "pipeline")
    today = datetime.datetime.now(datetime.UTC).date()
    days = {(today + datetime.timedelta(days=d)).isoformat() for d in (-1, 0, 1)}
    assert any(f".{day}." in key for day in days), key
