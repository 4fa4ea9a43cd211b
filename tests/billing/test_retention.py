"""A canceled workspace is kept read-only for the retention period, its billing managers are
warned 30, 7 and 1 days before, then a Celery task drops its schema; paying again before then
keeps it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import retention
from billing.models import BillingAccount, WorkspaceDeletion
from billing.subscriptions import subscription_apply
from billing.tasks import drop_workspace, retention_sweep
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Plan, Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.factories import UserFactory


def _cancel(tenant: Tenant, *, ended_days_ago: float) -> BillingAccount:
    Tenant.objects.filter(pk=tenant.pk).update(
        plan=Plan.PROFESSIONAL, billing_status=Tenant.BillingStatus.CANCELED
    )
    account, _ = BillingAccount.objects.update_or_create(
        tenant=tenant,
        defaults={
            "stripe_customer_id": f"cus_retention_{tenant.pk}",
            "stripe_subscription_id": f"sub_retention_{tenant.pk}",
            "subscription_status": "canceled",
            "subscription_version": 100,
            "ended_at": timezone.now() - timedelta(days=ended_days_ago),
        },
    )
    return account


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def _actions(tenant: Tenant) -> list[str]:
    with schema_context(tenant.schema_name):
        return list(
            AuditEvent.objects.filter(action__startswith="billing.deletion")
            .order_by("id")
            .values_list("action", flat=True)
        )


def _managers(workspace: Workspace) -> list[str]:
    return sorted(
        Membership.objects.filter(
            tenant=workspace.tenant, role__in=[Role.OWNER, Role.ADMIN], status="active"
        ).values_list("user__email", flat=True)
    )


def test_a_canceled_workspace_is_scheduled_for_deletion_after_the_retention_period(
    alpha: Workspace, settings: Any
) -> None:
    settings.BILLING_RETENTION_DAYS = 60
    account = _cancel(alpha.tenant, ended_days_ago=2)

    result = retention.retention_sweep()

    assert (result.scheduled, result.due) == (1, [])
    deletion = WorkspaceDeletion.objects.get(tenant=alpha.tenant)
    assert deletion.status == "scheduled"
    assert account.ended_at is not None
    assert deletion.delete_after == account.ended_at + timedelta(days=60)
    assert deletion.schema_name == alpha.tenant.schema_name
    assert _actions(alpha.tenant) == ["billing.deletion_scheduled"]
    # Run again: nothing more.
    assert retention.retention_sweep().scheduled == 0
    assert WorkspaceDeletion.objects.filter(tenant=alpha.tenant).count() == 1

    body = workspace_client(alpha.owner.user, alpha.tenant).get("/billing/").content.decode()
    assert 'data-testid="deletion-notice"' in body
    assert "all its data will be deleted on" in body


@pytest.mark.parametrize(
    "status",
    [
        Tenant.BillingStatus.ACTIVE,
        Tenant.BillingStatus.TRIAL_EXPIRED,
        Tenant.BillingStatus.UNPAID,
        Tenant.BillingStatus.PAST_DUE,
    ],
)
def test_only_canceled_workspaces_are_scheduled(alpha: Workspace, status: str) -> None:
    _cancel(alpha.tenant, ended_days_ago=90)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(billing_status=status)

    result = retention.retention_sweep()

    assert (result.scheduled, result.due) == (0, [])
    assert not WorkspaceDeletion.objects.exists()


def test_a_suspended_workspace_is_never_deleted(alpha: Workspace) -> None:
    _cancel(alpha.tenant, ended_days_ago=90)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(state=Tenant.State.SUSPENDED)

    assert retention.retention_sweep().scheduled == 0
    assert not WorkspaceDeletion.objects.exists()


def test_warnings_go_out_30_7_and_1_days_before_once_each(
    alpha: Workspace, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BILLING_RETENTION_DAYS = 60
    _cancel(alpha.tenant, ended_days_ago=0)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        retention.retention_sweep(now=now)
    assert mail.outbox == []  # 60 days left: no warning yet
    deletion = WorkspaceDeletion.objects.get(tenant=alpha.tenant)

    def owner_mail() -> list[Any]:
        return [message for message in mail.outbox if message.to == [alpha.owner.user.email]]

    sent: list[int] = []
    for day in (29.9, 30.5, 45, 52.5, 53.5, 58, 59.2, 59.5):
        with django_capture_on_commit_callbacks(execute=True):
            retention.retention_sweep(now=now + timedelta(days=day))
        sent.append(len(owner_mail()))

    # 30 days before (at day 30.5), 7 days before (at 53.5), 1 day before (at 59.2).
    assert sent == [0, 1, 1, 1, 2, 2, 3, 3]
    # Every billing manager gets each warning, nobody else.
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted(_managers(alpha) * 3)
    first = owner_mail()
    assert [message.subject for message in first] == [
        "Alpha Inc will be deleted from Rapport in 30 days",
        "Alpha Inc will be deleted from Rapport in 7 days",
        "Alpha Inc will be deleted from Rapport in 1 day",
    ]
    assert "http://alpha.localhost/billing/" in first[0].body
    assert "subscribe again to keep it" in first[0].body
    deletion.refresh_from_db()
    assert deletion.last_warning_days == 1
    assert (
        _actions(alpha.tenant)
        == ["billing.deletion_scheduled"] + ["billing.deletion_warning_sent"] * 3
    )


def test_a_late_sweep_sends_only_the_latest_warning(
    alpha: Workspace, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BILLING_RETENTION_DAYS = 60
    _cancel(alpha.tenant, ended_days_ago=57)  # 3 days left: the 30- and 7-day ones missed

    with django_capture_on_commit_callbacks(execute=True):
        retention.retention_sweep()

    owner_mail = [message for message in mail.outbox if message.to == [alpha.owner.user.email]]
    assert [message.subject for message in owner_mail] == [
        "Alpha Inc will be deleted from Rapport in 3 days"
    ]
    assert WorkspaceDeletion.objects.get(tenant=alpha.tenant).last_warning_days == 7


def test_paying_again_withdraws_the_deletion(alpha: Workspace, settings: Any) -> None:
    settings.BILLING_RETENTION_DAYS = 60
    account = _cancel(alpha.tenant, ended_days_ago=70)
    result = retention.retention_sweep()
    assert len(result.due) == 1

    subscription_apply(
        customer=account.stripe_customer_id,
        subscription={"id": "sub_again", "status": "active", "items": {"data": []}},
        version=200,
        source="evt_again",
    )

    deletion = WorkspaceDeletion.objects.get(tenant=alpha.tenant)
    assert deletion.status == "canceled"
    assert deletion.canceled_at is not None
    # The drop task that was already queued does nothing.
    assert retention.workspace_drop(deletion_id=deletion.pk) is False
    assert alpha.tenant.schema_name in _schemas()
    assert Tenant.objects.get(pk=alpha.tenant.pk).billing_status == "active"
    account.refresh_from_db()
    assert account.ended_at is None
    assert _actions(alpha.tenant)[-1] == "billing.deletion_canceled"


def test_a_deletion_not_yet_due_drops_nothing(alpha: Workspace) -> None:
    _cancel(alpha.tenant, ended_days_ago=10)
    retention.retention_sweep()
    deletion = WorkspaceDeletion.objects.get(tenant=alpha.tenant)

    assert drop_workspace.delay(deletion.pk).get() is False

    assert alpha.tenant.schema_name in _schemas()
    assert WorkspaceDeletion.objects.get(pk=deletion.pk).status == "scheduled"


def test_when_due_the_task_drops_the_schema_and_keeps_the_record(
    alpha: Workspace, settings: Any
) -> None:
    settings.BILLING_RETENTION_DAYS = 60
    owner = UserFactory.create()
    tenant = services.workspace_create(owner=owner, company_name="Gone Ltd", slug="gone-ltd")
    schema = tenant.schema_name
    _cancel(tenant, ended_days_ago=61)
    assert schema in _schemas()

    result = retention_sweep.delay().get()

    assert result == {"scheduled": 1, "warned": 0, "due": 1}
    assert schema not in _schemas()
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    record = WorkspaceDeletion.objects.get(schema_name=schema)
    assert (record.status, record.slug, record.name, record.tenant_id) == (
        "done",
        "gone-ltd",
        "Gone Ltd",
        None,
    )
    assert record.deleted_at is not None
    # The people keep their accounts (D4), other workspaces are untouched.
    assert type(owner).objects.filter(pk=owner.pk).exists()
    assert alpha.tenant.schema_name in _schemas()
