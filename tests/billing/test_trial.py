"""The trial: days left rounded up in every time zone, reminders sent once each, and a
read-only workspace at its end that can still be paid for."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import services
from billing.models import TrialReminder
from billing.tasks import trial_sweep
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Plan, Tenant
from tenants.roles import Role
from tenants.selectors import trial_days_left
from tests.conftest import Workspace, workspace_client

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))  # a DST change in Europe


def _trial(workspace: Workspace, *, ends_at: datetime, plan: str = Plan.TRIAL) -> Tenant:
    Tenant.objects.filter(pk=workspace.tenant.pk).update(
        plan=plan, trial_ends_at=ends_at, billing_status=Tenant.BillingStatus.TRIALING
    )
    return Tenant.objects.get(pk=workspace.tenant.pk)


def _expire(workspace: Workspace) -> Tenant:
    Tenant.objects.filter(pk=workspace.tenant.pk).update(
        plan=Plan.TRIAL,
        trial_ends_at=timezone.now() - timedelta(minutes=1),
        billing_status=Tenant.BillingStatus.TRIAL_EXPIRED,
    )
    return Tenant.objects.get(pk=workspace.tenant.pk)


@pytest.mark.parametrize(
    "zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Bangkok", "Europe/Rome"]
)
def test_a_fresh_trial_says_14_days_in_every_time_zone(alpha: Workspace, zone: str) -> None:
    tenant = _trial(alpha, ends_at=NOW + timedelta(days=14))
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert trial_days_left(tenant, now=NOW) == 14
        assert trial_days_left(tenant, now=NOW + timedelta(seconds=1)) == 14
        assert trial_days_left(tenant, now=NOW + timedelta(days=1)) == 13
        assert trial_days_left(tenant, now=NOW + timedelta(days=13, hours=23)) == 1
        assert trial_days_left(tenant, now=NOW + timedelta(days=14)) == 0
        assert trial_days_left(tenant, now=NOW + timedelta(days=20)) == 0


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_banner_of_a_fresh_trial_says_14_days(alpha: Workspace, zone: str) -> None:
    _trial(alpha, ends_at=timezone.now() + timedelta(days=14))
    rep = alpha.members[Role.SALES_REP]
    rep.user.time_zone = zone
    rep.user.save(update_fields=["time_zone"])

    body = workspace_client(rep.user, alpha.tenant).get("/").content.decode()

    assert "14 days left in your trial." in body
    assert 'href="/billing/"' not in body  # a sales rep cannot choose a plan


def test_the_owner_s_banner_links_to_billing(alpha: Workspace) -> None:
    _trial(alpha, ends_at=timezone.now() + timedelta(days=14))
    body = workspace_client(alpha.owner.user, alpha.tenant).get("/").content.decode()
    assert "14 days left in your trial." in body
    assert 'href="/billing/">Choose a plan</a>' in body


def _billing_emails() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_reminders_go_out_3_days_and_1_day_before_the_end_once_each(
    alpha: Workspace, django_capture_on_commit_callbacks
) -> None:
    tenant = _trial(alpha, ends_at=NOW + timedelta(days=14))
    managers = sorted([alpha.owner.user.email, alpha.members[Role.ADMIN].user.email])

    with django_capture_on_commit_callbacks(execute=True):
        assert services.trial_sweep(now=NOW + timedelta(days=10)).reminded == 0  # 4 days left
    assert mail.outbox == []

    three_days_left = NOW + timedelta(days=11, hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.trial_sweep(now=three_days_left).reminded == 1
        assert services.trial_sweep(now=three_days_left).reminded == 0
        assert services.trial_sweep(now=three_days_left + timedelta(hours=5)).reminded == 0
    assert _billing_emails() == managers
    assert mail.outbox[0].subject == "Your Rapport trial for Alpha Inc ends soon"
    assert "ends in 3 days." in mail.outbox[0].body
    assert "http://alpha.localhost/billing/" in mail.outbox[0].body

    mail.outbox.clear()
    one_day_left = NOW + timedelta(days=13, hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.trial_sweep(now=one_day_left).reminded == 1
        assert services.trial_sweep(now=one_day_left).reminded == 0
    assert _billing_emails() == managers
    assert "ends in 1 day." in mail.outbox[0].body

    assert sorted(
        TrialReminder.objects.filter(tenant=tenant).values_list("days_before", flat=True)
    ) == [1, 3]
    with schema_context(tenant.schema_name):
        assert AuditEvent.objects.filter(action="billing.trial_reminder_sent").count() == 2
    assert Tenant.objects.get(pk=tenant.pk).billing_status == Tenant.BillingStatus.TRIALING


def test_a_sweep_that_missed_the_3_day_reminder_sends_only_the_1_day_one(
    alpha: Workspace, django_capture_on_commit_callbacks
) -> None:
    tenant = _trial(alpha, ends_at=NOW + timedelta(days=14))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.trial_sweep(now=NOW + timedelta(days=13, hours=12)).reminded == 1
    assert list(
        TrialReminder.objects.filter(tenant=tenant).values_list("days_before", flat=True)
    ) == [1]
    assert len(mail.outbox) == 2


def test_the_beat_task_is_scheduled_and_runs_the_sweep(alpha: Workspace, settings) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["billing-trial-sweep"]["task"] == (
        "billing.tasks.trial_sweep"
    )
    _trial(alpha, ends_at=timezone.now() - timedelta(seconds=1))
    assert trial_sweep.delay().get() == {"reminded": 0, "expired": 1}
    assert trial_sweep.delay().get() == {"reminded": 0, "expired": 0}


def test_a_trial_that_ends_without_a_subscription_becomes_read_only_with_its_data(
    alpha: Workspace,
) -> None:
    tenant = _trial(alpha, ends_at=NOW + timedelta(days=14))
    members_before = Membership.objects.filter(tenant=tenant).count()

    assert services.trial_sweep(now=NOW + timedelta(days=13, hours=23)).expired == 0
    result = services.trial_sweep(now=NOW + timedelta(days=14))
    assert result.expired == 1

    tenant.refresh_from_db()
    assert tenant.billing_status == Tenant.BillingStatus.TRIAL_EXPIRED
    assert tenant.state == Tenant.State.ACTIVE  # not a platform suspension
    assert tenant.is_read_only is True
    assert Membership.objects.filter(tenant=tenant).count() == members_before
    with schema_context(tenant.schema_name):
        assert AuditEvent.objects.filter(action="billing.trial_expired").count() == 1
    assert services.trial_sweep(now=NOW + timedelta(days=15)).expired == 0


def test_a_subscribed_workspace_is_neither_reminded_nor_expired(alpha: Workspace) -> None:
    tenant = _trial(alpha, ends_at=NOW + timedelta(days=1), plan=Plan.STARTER)
    assert services.trial_sweep(now=NOW + timedelta(hours=1)) == services.TrialSweep(0, 0)
    assert services.trial_sweep(now=NOW + timedelta(days=3)) == services.TrialSweep(0, 0)
    tenant.refresh_from_db()
    assert tenant.billing_status == Tenant.BillingStatus.TRIALING
    assert TrialReminder.objects.filter(tenant=tenant).exists() is False


def test_trial_ended_and_platform_suspension_are_distinguishable(alpha: Workspace) -> None:
    tenant = _expire(alpha)
    assert tenant.is_read_only
    assert tenant.is_trial_expired
    Tenant.objects.filter(pk=tenant.pk).update(
        state=Tenant.State.SUSPENDED, billing_status=Tenant.BillingStatus.TRIALING
    )
    tenant.refresh_from_db()
    assert tenant.is_read_only
    assert not tenant.is_trial_expired


def test_after_the_trial_a_billing_manager_is_asked_to_subscribe(alpha: Workspace) -> None:
    _expire(alpha)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    page = client.get("/").content.decode()
    assert "The trial has ended and this workspace is read-only; its data is kept." in page
    assert '<a href="/billing/">Subscribe to continue</a>' in page

    refused = client.post("/members/invite/", {"email": "new@example.com", "role": Role.SALES_REP})
    assert refused.status_code == 403
    body = refused.content.decode()
    assert "Subscribe to continue" in body
    assert 'data-testid="subscribe-link"' in body
    assert Membership.objects.filter(user__email="new@example.com").exists() is False


def test_after_the_trial_other_members_are_told_whom_to_ask(alpha: Workspace) -> None:
    _expire(alpha)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    page = client.get("/").content.decode()
    assert "Ask an owner or an admin to choose a plan." in page
    assert 'href="/billing/"' not in page
    refused = client.post("/signout-not-here/")
    assert refused.status_code == 403
    assert 'data-testid="ask-billing-manager"' in refused.content.decode()
    assert client.get("/billing/").status_code == 403


def test_billing_pages_accept_writes_in_an_ended_trial_only(alpha: Workspace) -> None:
    owner = workspace_client(alpha.owner.user, alpha.tenant)
    _expire(alpha)
    # The middleware lets the write through to the billing view (which answers for itself).
    assert owner.post("/billing/").status_code == 405
    assert owner.get("/billing/").status_code == 200
    # Everything else stays refused, the API included.
    assert owner.post("/settings/", {"name": "Changed"}).status_code == 403
    assert owner.post("/api/v1/members/", {}).status_code == 403

    Tenant.objects.filter(pk=alpha.tenant.pk).update(state=Tenant.State.SUSPENDED)
    # A platform suspension is not lifted by paying: billing writes are refused too.
    assert owner.post("/billing/").status_code == 403
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Inc"
