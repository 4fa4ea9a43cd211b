"""Scheduled reports: a member has a saved report emailed daily, weekly or monthly at a local
hour; each recipient gets the rows their own access allows as a formula-safe CSV attachment
plus a link, in their language and time zone. The sweep enters only workspaces whose
schedule alarm is due."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.reporting import services
from crm_modules.reporting.models import Report, ReportSchedule
from crm_modules.reporting.services.schedules import SCHEDULE_ALARM, When, next_run
from crm_modules.reporting.tasks import send_scheduled_reports
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import User, WorkspaceAlarm
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory, PipelineFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

UTC = datetime.UTC
BANGKOK = zoneinfo.ZoneInfo("Asia/Bangkok")
ROME = zoneinfo.ZoneInfo("Europe/Rome")
# A Wednesday.
NOW = datetime.datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BY_STAGE = {"source": "deals", "group_by": [{"field": "stage"}], "measures": [{"agg": "count"}]}


def _report(owner: Any, *, shared_with: list[str] | None = None) -> Report:
    return Report.objects.create(
        name="Pipeline", definition=BY_STAGE, owner=owner, shared_with=shared_with or []
    )


def _alarm(workspace: Workspace) -> WorkspaceAlarm | None:
    return WorkspaceAlarm.objects.filter(
        kind=SCHEDULE_ALARM, schema_name=workspace.tenant.schema_name
    ).first()


# --- when a schedule sends ------------------------------------------------------------------


def test_a_daily_schedule_sends_at_the_next_local_hour() -> None:
    when = When("daily", 8, 0, 1)
    # 12:00 UTC is 19:00 in Bangkok: 08:00 Bangkok tomorrow is 01:00 UTC.
    assert next_run(when=when, zone=BANGKOK, after=NOW) == datetime.datetime(
        2026, 3, 5, 1, 0, tzinfo=UTC
    )
    assert next_run(when=When("daily", 20, 0, 1), zone=BANGKOK, after=NOW) == datetime.datetime(
        2026, 3, 4, 13, 0, tzinfo=UTC
    )


def test_a_weekly_schedule_sends_on_its_weekday_and_a_monthly_on_its_day() -> None:
    # Monday 07:00 in Rome (winter: UTC+1).
    assert next_run(when=When("weekly", 7, 0, 1), zone=ROME, after=NOW) == datetime.datetime(
        2026, 3, 9, 6, 0, tzinfo=UTC
    )
    # The 4th has passed its 09:00 in Rome: the next is 4 April (summer: UTC+2).
    assert next_run(when=When("monthly", 9, 0, 4), zone=ROME, after=NOW) == datetime.datetime(
        2026, 4, 4, 7, 0, tzinfo=UTC
    )


def test_the_local_hour_follows_daylight_saving_time() -> None:
    before = datetime.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    first = next_run(when=When("daily", 8, 0, 1), zone=ROME, after=before)
    second = next_run(when=When("daily", 8, 0, 1), zone=ROME, after=first)
    assert (first, second) == (
        datetime.datetime(2026, 3, 29, 6, 0, tzinfo=UTC),
        datetime.datetime(2026, 3, 30, 6, 0, tzinfo=UTC),
    )


# --- scheduling -----------------------------------------------------------------------------


def test_scheduling_saves_the_schedule_sets_the_alarm_and_audits(alpha: Workspace) -> None:
    owner = fresh(alpha.owner)
    User.objects.filter(pk=owner.user_id).update(time_zone="Asia/Bangkok")
    owner = fresh(alpha.owner)
    report = _report(owner.user)
    schedule = services.schedule_create(
        actor=owner, report=report, frequency="daily", hour="8", now=NOW
    )
    assert (schedule.time_zone, schedule.recipient_ids) == ("Asia/Bangkok", [owner.user_id])
    assert schedule.next_run_at == datetime.datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    assert _alarm(alpha).due_at == schedule.next_run_at  # type: ignore[union-attr]
    event = AuditEvent.objects.get(action="report.scheduled")
    assert event.data == {
        "schedule": schedule.pk,
        "frequency": "daily",
        "recipients": [owner.user_id],
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"frequency": "hourly", "hour": "8"}, "frequency", "Choose daily, weekly or monthly."),
        ({"frequency": "daily", "hour": "24"}, "hour", "The hour must be from 0 to 23."),
        ({"frequency": "daily", "hour": "8; DROP"}, "hour", "The hour must be from 0 to 23."),
        ({"frequency": "weekly", "hour": "8", "weekday": "7"}, "weekday", None),
        (
            {"frequency": "monthly", "hour": "8", "day": "31"},
            "day",
            "The day of the month must be from 1 to 28.",
        ),
        ({"frequency": "daily", "hour": "8", "recipients": ["x"]}, "recipients", None),
        ({"frequency": "daily", "hour": "8", "recipients": ["999999"]}, "recipients", None),
        (
            {"frequency": "daily", "hour": "8", "recipients": [str(i) for i in range(1, 60)]},
            "recipients",
            "At most 50 recipients.",
        ),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    alpha: Workspace, fields: dict[str, Any], field: str, message: str | None
) -> None:
    report = _report(alpha.owner.user)
    with pytest.raises(ServiceError) as raised:
        services.schedule_create(actor=fresh(alpha.owner), report=report, **fields)
    assert raised.value.field == field
    if message:
        assert raised.value.message == message
    assert not ReportSchedule.objects.exists()
    assert _alarm(alpha) is None
    assert not AuditEvent.objects.filter(action="report.scheduled").exists()


def test_a_recipient_must_be_able_to_open_the_report(alpha: Workspace) -> None:
    report = _report(alpha.owner.user)  # not shared: the Sales rep may not open it
    rep = alpha.members[Role.SALES_REP]
    with pytest.raises(ServiceError) as raised:
        services.schedule_create(
            actor=fresh(alpha.owner),
            report=report,
            frequency="daily",
            hour=8,
            recipients=[rep.user_id],
        )
    assert raised.value.field == "recipients"
    assert "may not open this report" in raised.value.message
    assert not ReportSchedule.objects.exists()


def test_a_member_of_another_workspace_is_no_recipient(alpha: Workspace, bravo: Workspace) -> None:
    report = _report(alpha.owner.user, shared_with=list(Role.values))
    with pytest.raises(ServiceError) as raised:
        services.schedule_create(
            actor=fresh(alpha.owner),
            report=report,
            frequency="daily",
            hour=8,
            recipients=[bravo.owner.user_id],
        )
    assert raised.value.field == "recipients"
    assert not ReportSchedule.objects.exists()


def test_a_read_only_member_cannot_schedule(alpha: Workspace) -> None:
    report = _report(alpha.owner.user, shared_with=[Role.READ_ONLY])
    with pytest.raises(PermissionDenied):
        services.schedule_create(
            actor=fresh(alpha.members[Role.READ_ONLY]), report=report, frequency="daily", hour=8
        )
    assert not ReportSchedule.objects.exists()


def test_a_member_cannot_schedule_a_report_they_may_not_open(alpha: Workspace) -> None:
    report = _report(alpha.owner.user)
    with pytest.raises(PermissionDenied):
        services.schedule_create(
            actor=fresh(alpha.members[Role.SALES_REP]), report=report, frequency="daily", hour=8
        )
    assert not ReportSchedule.objects.exists()


# --- sending --------------------------------------------------------------------------------


@pytest.fixture
def deals(alpha: Workspace) -> dict[str, Any]:
    """Two deals of the Sales rep in a stage whose name a spreadsheet would run as a formula,
    one of the Owner in another stage."""
    pipeline = PipelineFactory.create()
    stages = list(pipeline.stages.order_by("position"))
    stages[0].name = "=HYPERLINK(1)"
    stages[0].save(update_fields=["name"])
    rep = alpha.members[Role.SALES_REP].user
    for _ in range(2):
        DealFactory.create(owner=rep, pipeline=pipeline, stage=stages[0], amount=Decimal(1))
    DealFactory.create(owner=alpha.owner.user, pipeline=pipeline, stage=stages[1])
    return {"stages": stages}


def _send(capture: Any, now: datetime.datetime) -> int:
    with capture(execute=True), pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: now)
        return send_scheduled_reports()


def test_each_recipient_gets_their_own_rows_in_their_language(
    alpha: Workspace, deals: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    rep = alpha.members[Role.SALES_REP]
    User.objects.filter(pk=rep.user_id).update(language="it", time_zone="Europe/Rome")
    report = _report(alpha.owner.user, shared_with=[Role.SALES_REP])
    schedule = services.schedule_create(
        actor=fresh(alpha.owner),
        report=report,
        frequency="daily",
        hour=8,
        recipients=[alpha.owner.user_id, rep.user_id],
        now=NOW,
    )
    due = schedule.next_run_at
    assert _send(django_capture_on_commit_callbacks, due) == 2
    by_to = {message.to[0]: message for message in mail.outbox}
    assert set(by_to) == {alpha.owner.user.email, rep.user.email}
    owners, reps = by_to[alpha.owner.user.email], by_to[rep.user.email]
    [(name, owner_csv, mimetype)] = owners.attachments
    assert (name, mimetype) == (f"report-{report.pk}-{due:%Y-%m-%d}.csv", "text/csv")
    # The Owner sees every deal; the rep only their own two, in the stage guarded against
    # formulas.
    assert owner_csv.splitlines()[1:] == [
        "'=HYPERLINK(1),2",
        f"{deals['stages'][1].name},1",
    ]
    [(_, rep_csv, _)] = reps.attachments
    assert rep_csv.splitlines()[1:] == ["'=HYPERLINK(1),2"]
    # In the rep's language and time zone: 08:00 UTC is 09:00 in Rome.
    assert "Il tuo report programmato “Pipeline”, aggiornato al 05/03/2026 09:00." in reps.body
    assert "1 riga è allegata come file CSV." in reps.body
    link = reverse("reporting:report_detail", args=[report.pk])
    assert link in reps.body
    assert link in owners.body
    assert reps.subject.startswith("Pipeline — ")
    refreshed = ReportSchedule.objects.get(pk=schedule.pk)
    assert refreshed.last_sent_at == due
    assert refreshed.next_run_at == due + datetime.timedelta(days=1)
    # The alarm moved to the next send time; nothing more is sent before it.
    assert _alarm(alpha).due_at == refreshed.next_run_at  # type: ignore[union-attr]
    assert _send(django_capture_on_commit_callbacks, due + datetime.timedelta(hours=1)) == 0
    assert len(mail.outbox) == 2


def test_a_recipient_who_lost_access_gets_nothing(
    alpha: Workspace, deals: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    rep = alpha.members[Role.SALES_REP]
    report = _report(alpha.owner.user, shared_with=[Role.SALES_REP])
    schedule = services.schedule_create(
        actor=fresh(alpha.owner),
        report=report,
        frequency="weekly",
        hour=8,
        weekday=2,
        recipients=[rep.user_id],
        now=NOW,
    )
    services.report_share(actor=fresh(alpha.owner), report=report, roles=[])
    assert _send(django_capture_on_commit_callbacks, schedule.next_run_at) == 0
    assert mail.outbox == []
    # The schedule still moves on a week.
    refreshed = ReportSchedule.objects.get(pk=schedule.pk)
    assert refreshed.next_run_at == schedule.next_run_at + datetime.timedelta(days=7)


def test_a_paused_schedule_sends_nothing_and_resuming_starts_from_now(
    alpha: Workspace, deals: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    owner = fresh(alpha.owner)
    report = _report(owner.user)
    schedule = services.schedule_create(
        actor=owner, report=report, frequency="daily", hour=8, now=NOW
    )
    services.schedule_pause(actor=owner, schedule=schedule, paused=True)
    assert _send(django_capture_on_commit_callbacks, schedule.next_run_at) == 0
    assert mail.outbox == []
    # No schedule is due any more: the alarm is gone until one is.
    assert _alarm(alpha) is None
    later = NOW + datetime.timedelta(days=10)
    resumed = services.schedule_pause(actor=owner, schedule=schedule, paused=False, now=later)
    assert resumed.next_run_at == datetime.datetime(2026, 3, 15, 8, 0, tzinfo=UTC)
    assert _alarm(alpha).due_at == resumed.next_run_at  # type: ignore[union-attr]
    assert list(
        AuditEvent.objects.filter(action="report.schedule_paused")
        .order_by("id")
        .values_list("data", flat=True)
    ) == [
        {"schedule": schedule.pk, "report": report.pk, "paused": True},
        {"schedule": schedule.pk, "report": report.pk, "paused": False},
    ]


def test_the_sweep_enters_only_workspaces_whose_alarm_is_due(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(bravo.tenant.schema_name):
        # Written past the services: no alarm, so no visit.
        bravo_report = _report(bravo.owner.user)
        bravo_schedule = ReportSchedule.objects.create(
            report=bravo_report,
            owner=bravo.owner.user,
            frequency="daily",
            hour=8,
            time_zone="UTC",
            recipient_ids=[bravo.owner.user_id],
            next_run_at=NOW,
        )
    assert _send(django_capture_on_commit_callbacks, NOW) == 0
    with schema_context(bravo.tenant.schema_name):
        assert ReportSchedule.objects.get(pk=bravo_schedule.pk).last_sent_at is None
    assert mail.outbox == []


def test_only_the_author_may_pause_or_delete_a_schedule(alpha: Workspace) -> None:
    report = _report(alpha.owner.user, shared_with=[Role.ADMIN])
    schedule = services.schedule_create(
        actor=fresh(alpha.owner), report=report, frequency="daily", hour=8
    )
    admin = fresh(alpha.members[Role.ADMIN])
    with pytest.raises(PermissionDenied):
        services.schedule_pause(actor=admin, schedule=schedule, paused=True)
    with pytest.raises(PermissionDenied):
        services.schedule_delete(actor=admin, schedule=schedule)
    assert ReportSchedule.objects.get(pk=schedule.pk).paused is False
    client = workspace_client(admin.user, alpha.tenant)
    response = client.post(reverse("reporting:schedule_delete", args=[schedule.pk]))
    assert response.status_code == 404
    assert ReportSchedule.objects.filter(pk=schedule.pk).exists()
    services.schedule_delete(actor=fresh(alpha.owner), schedule=schedule)
    assert not ReportSchedule.objects.exists()
    assert AuditEvent.objects.get(action="report.schedule_deleted").data == {
        "schedule": schedule.pk,
        "report": report.pk,
    }


def test_the_report_page_schedules_and_names_a_bad_field(alpha: Workspace) -> None:
    report = _report(alpha.owner.user, shared_with=[Role.SALES_REP])
    rep = alpha.members[Role.SALES_REP]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(reverse("reporting:report_detail", args=[report.pk]))
    assert page.status_code == 200
    assert f'name="recipients" value="{rep.user_id}"' in page.content.decode()
    url = reverse("reporting:schedule_create", args=[report.pk])
    bad = client.post(url, {"frequency": "monthly", "hour": "9", "day": "30"})
    assert bad.status_code == 400
    assert 'data-field="day"' in bad.content.decode()
    assert not ReportSchedule.objects.exists()
    good = client.post(
        url,
        {"frequency": "weekly", "hour": "9", "weekday": "4", "recipients": [str(rep.user_id)]},
    )
    assert good.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert (schedule.frequency, schedule.hour, schedule.weekday, schedule.recipient_ids) == (
        "weekly",
        9,
        4,
        [rep.user_id],
    )
    page = client.get(reverse("reporting:report_detail", args=[report.pk]))
    assert f'data-schedule="{schedule.pk}"' in page.content.decode()
