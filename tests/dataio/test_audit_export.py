"""Audit log export (ADR 0078): the audit log of a date range as a streamed CSV, for the plans
with audit export (Enterprise) and the roles that read the log; formulas neutralised as in the
other exports; the export is itself in the audit log; bad ranges name the field."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection

from tenants.audit.models import AuditEvent
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

URL = "/data/audit-log.csv"


def _on_plan(alpha: Workspace, plan: str) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=plan)


def _event(alpha: Workspace, *, action: str, at: datetime.datetime, target: str) -> None:
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    AuditEvent.objects.create(
        action=action,
        actor_email="owner@alpha.example.com",
        target_repr=target,
        data={"note": "Привет, 你好"},
        created_at=at,
    )
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def _rows(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_enterprise_exports_the_range_streamed_with_formulas_neutralised(alpha: Workspace) -> None:
    _on_plan(alpha, Plan.ENTERPRISE)
    day = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
    _event(alpha, action="deal.created", at=day, target='=HYPERLINK("http://x")')
    _event(alpha, action="deal.updated", at=day + datetime.timedelta(days=1), target="Milan")
    _event(alpha, action="deal.deleted", at=day + datetime.timedelta(days=5), target="Outside")
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.get(URL, {"date_from": "2026-03-10", "date_to": "2026-03-11"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-log-2026-03-10-2026-03-11.csv"' in response["Content-Disposition"]
    rows = _rows(response)
    assert rows[0][:3] == ["created_at", "actor_email", "action"]
    assert [(row[2], row[5]) for row in rows[1:]] == [
        ("deal.created", '\'=HYPERLINK("http://x")'),
        ("deal.updated", "Milan"),
    ]
    assert rows[1][6] == '{"note": "Привет, 你好"}'
    # The export is in the audit log itself, with who and which range.
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    exported = AuditEvent.objects.get(action="audit_log.exported")
    assert exported.actor_id == alpha.owner.user_id
    assert exported.data == {"from": "2026-03-10", "to": "2026-03-11"}


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL, Plan.TRIAL])
def test_plans_without_audit_export_are_refused_naming_the_plan(
    alpha: Workspace, plan: str
) -> None:
    _on_plan(alpha, plan)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.get(URL, {"date_from": "2026-03-10", "date_to": "2026-03-11"})

    assert response.status_code == 403
    assert 'data-testid="plan-forbidden"' in response.content.decode()
    page = client.get("/audit/").content.decode()
    assert 'data-testid="audit-export-not-in-plan"' in page
    assert 'data-testid="audit-export"' not in page
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert not AuditEvent.objects.filter(action="audit_log.exported").exists()


def test_a_role_that_does_not_read_the_log_cannot_export_it(alpha: Workspace) -> None:
    _on_plan(alpha, Plan.ENTERPRISE)
    manager = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    response = manager.get(URL, {"date_from": "2026-03-10", "date_to": "2026-03-11"})
    assert response.status_code == 403
    assert 'data-testid="plan-forbidden"' not in response.content.decode()
    owner_page = workspace_client(alpha.owner.user, alpha.tenant).get("/audit/")
    assert 'data-testid="audit-export"' in owner_page.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_to": "2026-03-11"}, "date_from"),
        ({"date_from": "2026-03-10"}, "date_to"),
        ({"date_from": "2026-03-12", "date_to": "2026-03-11"}, "date_to"),
        ({"date_from": "10/03/2026", "date_to": "2026-03-11"}, "date_from"),
        ({"date_from": "2025-01-01", "date_to": "2026-03-11"}, "date_to"),
    ],
)
def test_a_bad_range_is_refused_naming_the_field_and_nothing_is_audited(
    alpha: Workspace, query: dict[str, str], field: str
) -> None:
    _on_plan(alpha, Plan.ENTERPRISE)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get(URL, query)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{field}: ")
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert not AuditEvent.objects.filter(action="audit_log.exported").exists()


def test_days_are_the_readers_zone_days(alpha: Workspace) -> None:
    # 23:30 on the 9th in UTC is already the 10th in Bangkok (UTC+7): the owner follows the
    # workspace's zone, as the audit page's date filter does.
    _on_plan(alpha, Plan.ENTERPRISE)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(time_zone="Asia/Bangkok")
    late = datetime.datetime(2026, 3, 9, 23, 30, tzinfo=datetime.UTC)
    _event(alpha, action="deal.created", at=late, target="Bangkok morning")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get(URL, {"date_from": "2026-03-10", "date_to": "2026-03-10"})
    assert [row[5] for row in _rows(response)[1:]] == ["Bangkok morning"]
