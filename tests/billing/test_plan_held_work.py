"""What a plan held resumes with the plan (ADR 0081): a satisfaction survey held while the plan
left service out is sent once it includes service again, if the ticket was solved recently
enough, else it is marked expired; a campaign held by the plan is parked, shown "Held by the
plan", and resumes from the plan change (billing's subscription path) or from the sweep, each
recipient getting the email exactly once. Routing rules and SLA escalations are automation:
paused on a plan with service but without automation. On the real database and a real SMTP
server."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from billing import plans
from billing.models import BillingAccount
from billing.plans import Feature, plan_allows, price_lookup_key
from billing.subscriptions import subscription_apply
from crm_modules.marketing.campaigns import sending
from crm_modules.marketing.campaigns import services as campaign_services
from crm_modules.marketing.campaigns import tasks as campaign_tasks
from crm_modules.marketing.campaigns.held import CAMPAIGNS_HELD_ALARM
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.models import Campaign, CampaignRecipient, Segment, SegmentMember
from crm_modules.marketing.sequences.tasks import sequences_sweep
from crm_modules.service import clock, sla
from crm_modules.service import services as service_services
from crm_modules.service.models import CsatSurvey, RoutingRule, SlaEscalation, Ticket
from crm_modules.service.services import routing
from crm_modules.service.services.csat import CSAT_HELD_ALARM
from crm_modules.service.services.sla_alerts import sla_alerts_send
from crm_modules.service.tasks import send_sla_alerts
from tenants.audit.models import AuditEvent
from tenants.models import Plan, Team, Tenant, WorkspaceAlarm
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.marketing.conftest import Sink, open_contact_rules, smtp_sink  # noqa: F401
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory
from tests.service.conftest import customer

HELD_BADGE = 'data-testid="held-by-plan"'
PAUSED = 'data-testid="paused-by-plan"'


def _on_plan(workspace: Workspace, plan: str) -> None:
    """The plan written directly, as if the plan-change hook had been lost: only the sweeps
    can pick up what was held."""
    Tenant.objects.filter(pk=workspace.tenant.pk).update(plan=plan)
    workspace.tenant.plan = plan


_versions = iter(range(1000, 10**6))


def _subscribe(workspace: Workspace, plan: str, on_commit: Callable[..., Any]) -> None:
    """The plan changed the way every plan change arrives: billing applies the subscription
    Stripe describes (the webhook and the billing page both end there)."""
    account, _created = BillingAccount.objects.get_or_create(
        tenant=workspace.tenant,
        defaults={
            "stripe_customer_id": f"cus_held_{workspace.tenant.pk}",
            "stripe_subscription_id": f"sub_held_{workspace.tenant.pk}",
            "subscription_status": "active",
            "subscription_version": 0,
        },
    )
    price = {"lookup_key": price_lookup_key(plan=plan, interval="month")}
    # The object the test's connection holds, as a worker's would be after the change.
    workspace.tenant.plan = plan
    with on_commit(execute=True):
        applied = subscription_apply(
            customer=account.stripe_customer_id,
            subscription={
                "id": account.stripe_subscription_id,
                "currency": "usd",
                "status": "active",
                "items": {"data": [{"price": price, "quantity": 3}]},
            },
            version=next(_versions),
            source="evt_plan",
        )
    assert applied


def _alarm(workspace: Workspace, kind: str) -> WorkspaceAlarm | None:
    return WorkspaceAlarm.objects.filter(
        kind=kind, schema_name=workspace.tenant.schema_name
    ).first()


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    from django.db import connection

    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


# --- satisfaction surveys --------------------------------------------------------------------


def _solved_on_starter(
    alpha: Workspace, on_commit: Callable[..., Any], *, solved_days_ago: float = 0
) -> CsatSurvey:
    """A ticket solved while the plan included service, its survey's task running after the
    workspace moved to Starter."""
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    contact = customer("ada@example.com", first_name="Ada")
    ticket = service_services.ticket_create(
        actor=agent, subject="Printer on fire", contact_id=contact.pk, assignee_id=agent.user_id
    )
    with on_commit() as queued:
        service_services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    survey = CsatSurvey.objects.get(ticket=ticket)
    if solved_days_ago:
        solved = timezone.now() - datetime.timedelta(days=solved_days_ago)
        CsatSurvey.objects.filter(pk=survey.pk).update(created_at=solved)
    _on_plan(alpha, Plan.STARTER)
    mail.outbox.clear()
    with on_commit(execute=True):
        for callback in queued:
            callback()
    survey.refresh_from_db()
    assert survey.delivery == CsatSurvey.Delivery.PENDING
    assert mail.outbox == []
    return survey


def test_a_held_survey_is_sent_once_when_the_plan_includes_service_again(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alpha = in_alpha
    survey = _solved_on_starter(alpha, django_capture_on_commit_callbacks)
    held = _alarm(alpha, CSAT_HELD_ALARM)
    assert held is not None

    # Still on Starter: the sweep leaves it as it is.
    with django_capture_on_commit_callbacks(execute=True):
        send_sla_alerts()
    survey.refresh_from_db()
    assert survey.delivery == CsatSurvey.Delivery.PENDING
    assert mail.outbox == []

    _subscribe(alpha, Plan.PROFESSIONAL, django_capture_on_commit_callbacks)
    survey.refresh_from_db()
    assert survey.delivery == CsatSurvey.Delivery.SENT
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]

    # The sweep after it sends nothing again and clears the alarm.
    with django_capture_on_commit_callbacks(execute=True):
        send_sla_alerts()
    assert len(mail.outbox) == 1
    assert _alarm(alpha, CSAT_HELD_ALARM) is None


def test_the_sweep_sends_a_held_survey_when_the_plan_change_was_not_heard(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alpha = in_alpha
    survey = _solved_on_starter(alpha, django_capture_on_commit_callbacks, solved_days_ago=6)
    _on_plan(alpha, Plan.PROFESSIONAL)
    with django_capture_on_commit_callbacks(execute=True):
        send_sla_alerts()
    survey.refresh_from_db()
    assert survey.delivery == CsatSurvey.Delivery.SENT
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert _alarm(alpha, CSAT_HELD_ALARM) is None


def test_a_survey_held_past_the_window_is_marked_expired_and_shown_so(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Callable[..., Any], settings: Any
) -> None:
    alpha = in_alpha
    settings.SERVICE_CSAT_SEND_WITHIN_DAYS = 7
    survey = _solved_on_starter(alpha, django_capture_on_commit_callbacks, solved_days_ago=8)

    _subscribe(alpha, Plan.PROFESSIONAL, django_capture_on_commit_callbacks)

    survey.refresh_from_db()
    assert survey.delivery == CsatSurvey.Delivery.EXPIRED
    assert survey.sent_at is None
    assert mail.outbox == []
    page = record_page(
        workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant),
        f"/sales/contacts/{survey.contact_id}/",
    )
    assert "Not sent: too long after the ticket was solved" in page


# --- campaigns ---------------------------------------------------------------------------------


def _campaign(alpha: Workspace, *emails: str) -> Campaign:
    segment = Segment.objects.create(name="List", kind="static")
    for address in emails:
        contact = ContactFactory.create(first_name="Ann", primary_email=address)
        SegmentMember.objects.create(segment=segment, contact=contact)
    return campaign_services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        draft=CampaignDraft(
            name="Spring",
            segment_id=segment.pk,
            variants=[VariantDraft(subject="Hi", blocks=[{"type": "text", "text": "Hello"}])],
        ),
    )


RECIPIENTS = ("ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com")


def test_a_campaign_held_mid_send_resumes_with_the_plan_change_each_recipient_once(
    in_alpha: Workspace,
    smtp_sink: Sink,  # noqa: F811 - the fixture imported above
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    alpha = in_alpha
    open_contact_rules()
    campaign = _campaign(alpha, *RECIPIENTS)
    marketer = fresh(alpha.members[Role.MARKETER])
    with django_capture_on_commit_callbacks():
        campaign_services.campaign_send(actor=marketer, campaign=campaign)
    # The recipients are queued and one batch goes before the downgrade.
    assert sending.campaign_queue_recipients(campaign.pk) == len(RECIPIENTS)
    assert sending.send_batch(campaign.pk, limit=1) == 1
    assert len(smtp_sink.messages) == 1

    _on_plan(alpha, Plan.STARTER)
    assert campaign_tasks.campaign_send(campaign.pk) == 0  # the next sender: held

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.held_by_plan_at is not None
    assert _alarm(alpha, CAMPAIGNS_HELD_ALARM) is not None
    assert len(smtp_sink.messages) == 1
    # The sweep leaves it held while the plan leaves marketing out.
    sequences_sweep()
    campaign.refresh_from_db()
    assert campaign.held_by_plan_at is not None

    _subscribe(alpha, Plan.PROFESSIONAL, django_capture_on_commit_callbacks)

    campaign.refresh_from_db()
    assert campaign.held_by_plan_at is None
    assert campaign.status == Campaign.Status.SENT
    assert sorted(smtp_sink.to()) == sorted(RECIPIENTS)
    # The sweep afterwards (and a sender task that was still on its way) send nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        sequences_sweep()
        campaign_tasks.campaign_send(campaign.pk)
    assert sorted(smtp_sink.to()) == sorted(RECIPIENTS)
    assert _alarm(alpha, CAMPAIGNS_HELD_ALARM) is None
    assert CampaignRecipient.objects.filter(campaign=campaign, status="sent").count() == 4


def test_a_scheduled_campaign_held_is_shown_so_and_the_sweep_resumes_it(
    in_alpha: Workspace,
    smtp_sink: Sink,  # noqa: F811 - the fixture imported above
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    alpha = in_alpha
    open_contact_rules()
    campaign = _campaign(alpha, *RECIPIENTS[:2])
    marketer = fresh(alpha.members[Role.MARKETER])
    with django_capture_on_commit_callbacks() as queued:
        campaign_services.campaign_send(actor=marketer, campaign=campaign)
    _on_plan(alpha, Plan.STARTER)
    for callback in queued:
        callback()  # the queueing task comes due after the downgrade

    campaign.refresh_from_db()
    assert (campaign.status, campaign.held_by_plan_at is not None) == ("scheduled", True)
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 0

    # The plan written without the hook: the pages show the campaign held until the sweep.
    _on_plan(alpha, Plan.PROFESSIONAL)
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    listing = client.get("/marketing/campaigns/").content.decode()
    detail = client.get(f"/marketing/campaigns/{campaign.pk}/").content.decode()
    assert HELD_BADGE in listing
    assert "Held by the plan" in listing
    assert HELD_BADGE in detail
    api = client.get(f"/api/v1/marketing/campaigns/{campaign.pk}/").json()
    assert api["held_by_plan_at"] is not None
    assert smtp_sink.messages == []

    with django_capture_on_commit_callbacks(execute=True):
        sequences_sweep()

    campaign.refresh_from_db()
    assert (campaign.status, campaign.held_by_plan_at) == ("sent", None)
    assert sorted(smtp_sink.to()) == sorted(RECIPIENTS[:2])
    assert HELD_BADGE not in client.get("/marketing/campaigns/").content.decode()


# --- routing rules and SLA escalations: automation ---------------------------------------------


@pytest.fixture
def without_automation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Professional as if it sold service without workflow automation: no plan on the table
    does today, so the pause is shown on a plan table where one does."""
    spec = plans.plan_spec(Plan.PROFESSIONAL)
    cut = dataclasses.replace(spec, features=spec.features - {Feature.AUTOMATION})
    monkeypatch.setitem(plans._BY_CODE, Plan.PROFESSIONAL, cut)


def test_every_plan_with_service_has_automation_today() -> None:
    """Why the pause is tested on a changed plan table: on today's plans service comes with
    automation, so routing and escalations run wherever the service module is."""
    for spec in plans.PLANS:
        if Feature.SERVICE in spec.features:
            assert Feature.AUTOMATION in spec.features


def _billing_rule(alpha: Workspace) -> Team:
    team = Team.objects.create(tenant=alpha.tenant, name="Billing")
    routing.routing_rule_save(
        actor=fresh(alpha.members[Role.MANAGER]),
        name="Invoices",
        team_id=team.pk,
        keywords="invoice",
    )
    return team


def _invoice_ticket(alpha: Workspace) -> Ticket:
    ticket = service_services.ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]), subject="Wrong invoice"
    )
    ticket.refresh_from_db()
    return ticket


def test_routing_rules_route_only_while_the_plan_includes_automation(
    in_alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = in_alpha
    _on_plan(alpha, Plan.PROFESSIONAL)
    team = _billing_rule(alpha)
    assert _invoice_ticket(alpha).team_id == team.pk

    spec = plans.plan_spec(Plan.PROFESSIONAL)
    monkeypatch.setitem(
        plans._BY_CODE,
        Plan.PROFESSIONAL,
        dataclasses.replace(spec, features=spec.features - {Feature.AUTOMATION}),
    )
    assert not plan_allows(alpha.tenant, Feature.AUTOMATION)
    paused = _invoice_ticket(alpha)
    assert paused.team_id is None  # nothing fired
    assert routing.route_decision(paused, tenant=alpha.tenant) == (None, None)
    assert RoutingRule.objects.filter(name="Invoices", is_active=True).exists()  # kept

    monkeypatch.undo()
    assert _invoice_ticket(alpha).team_id == team.pk  # works again with automation


@pytest.mark.usefixtures("without_automation")
def test_the_routing_page_and_api_say_the_rules_are_paused_by_the_plan(
    in_alpha: Workspace,
) -> None:
    alpha = in_alpha
    _on_plan(alpha, Plan.PROFESSIONAL)
    _billing_rule(alpha)
    manager = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    page = manager.get("/service/routing/")
    assert page.status_code == 200
    assert PAUSED in page.content.decode()
    assert "Paused by the plan" in page.content.decode()
    rules = manager.get("/api/v1/service/routing/rules/")
    assert rules.status_code == 200
    assert [r["paused_by_plan"] for r in rules.json()["results"]] == [True]


def test_the_routing_page_and_api_show_no_pause_with_automation(in_alpha: Workspace) -> None:
    alpha = in_alpha
    _on_plan(alpha, Plan.PROFESSIONAL)
    _billing_rule(alpha)
    manager = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    assert PAUSED not in manager.get("/service/routing/").content.decode()
    rules = manager.get("/api/v1/service/routing/rules/").json()["results"]
    assert [r["paused_by_plan"] for r in rules] == [False]
    owner = workspace_client(alpha.owner.user, alpha.tenant)
    assert PAUSED not in owner.get("/service/sla/").content.decode()


def _breaching(alpha: Workspace) -> Ticket:
    services_owner = fresh(alpha.owner)
    service_services.sla_escalation_add(actor=services_owner, target="any", action="raise_priority")
    return service_services.ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]),
        subject="Server down",
        priority="high",
        assignee_id=alpha.members[Role.SUPPORT_AGENT].user_id,
        now=timezone.now() - datetime.timedelta(days=8),
    )


@pytest.mark.parametrize("automation", [False, True])
def test_sla_escalations_fire_only_while_the_plan_includes_automation(
    in_alpha: Workspace,
    automation: bool,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    alpha = in_alpha
    _on_plan(alpha, Plan.PROFESSIONAL)
    ticket = _breaching(alpha)
    if not automation:
        spec = plans.plan_spec(Plan.PROFESSIONAL)
        monkeypatch.setitem(
            plans._BY_CODE,
            Plan.PROFESSIONAL,
            dataclasses.replace(spec, features=spec.features - {Feature.AUTOMATION}),
        )

    # Found while the business is open: escalations of a breach found after hours wait for
    # the next opening (ADR 0044), whatever the time the test runs at.
    timer = sla.clock_for(ticket)
    assert timer is not None
    found_at = clock.next_open(timezone.now(), timer.schedule)
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=found_at)

    ticket.refresh_from_db()
    assert ticket.first_response_breached  # the breach is still told
    escalated = AuditEvent.objects.filter(action="ticket.escalated").count()
    if automation:
        assert (ticket.priority, escalated > 0) == ("urgent", True)
    else:
        assert (ticket.priority, escalated) == ("high", 0)
        assert SlaEscalation.objects.count() == 1  # kept
        owner = workspace_client(alpha.owner.user, alpha.tenant)
        page = owner.get("/service/sla/").content.decode()
        assert PAUSED in page


def test_marketing_and_service_public_pages_share_one_gate() -> None:
    """One decorator, taking the feature, in front of every module's public pages: each
    gated view is a wrapper made by ``crm_platform.unavailable.customer_facing``."""
    from crm_modules.marketing import urls as marketing_urls
    from crm_modules.service import urls_portal
    from crm_platform import unavailable

    gate = unavailable.customer_facing(Feature.SERVICE)(lambda request: request).__code__
    portal = [p.callback.__code__ is gate for p in urls_portal.urlpatterns]
    forms = [
        p.callback.__code__ is gate
        for p in marketing_urls.urlpatterns
        if str(p.pattern).startswith("f/")
    ]
    assert portal
    assert all(portal)
    assert len(forms) == 3
    assert all(forms)


def test_a_json_caller_of_a_portal_page_is_answered_in_json(alpha: Workspace) -> None:
    _on_plan(alpha, Plan.STARTER)
    response = Client(HTTP_HOST=alpha.host).get("/portal/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert json.loads(response.content)["code"] == "not_available"
