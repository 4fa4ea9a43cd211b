"""The channels that do not go through a member follow the plan too (ADR 0078): on a plan
without service the customer portal and the ticket web form answer "not available" (404) and
take nothing in, and inbound email is refused with 406 on the webhook and 550 at RCPT over SMTP,
so the sender's server bounces it; on a plan without marketing the public forms answer the
same, and campaign sends, sequences and triggers are held — nothing sent, nothing dropped —
and go on once the plan includes the module again. A Starter workspace against a Professional
one, on the real database."""

from __future__ import annotations

import datetime
import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.marketing.campaigns import services as campaign_services
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.capture import guard
from crm_modules.marketing.capture import services as form_services
from crm_modules.marketing.models import Campaign, CampaignRecipient, Segment, SegmentMember
from crm_modules.marketing.models_capture import FormSubmission
from crm_modules.marketing.models_sequences import Enrolment, StepRun
from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.sequences import services as sequence_services
from crm_modules.marketing.sequences.services import SWEEP_ALARM
from crm_modules.marketing.sequences.steps import StepDraft
from crm_modules.marketing.sequences.tasks import sequences_sweep
from crm_modules.marketing.triggers import services as trigger_services
from crm_modules.sales.api import contact_update
from crm_modules.service import services as service_services
from crm_modules.service.models import CsatSurvey, InboundMessage, Ticket
from crm_modules.service.services.sla_alerts import SLA_ALARM
from crm_modules.service.tasks import send_sla_alerts
from tenants.models import Plan, Tenant, WorkspaceAlarm
from tenants.roles import Role
from tests.conftest import Workspace, World, workspace_client
from tests.marketing.conftest import Sink, open_contact_rules, smtp_sink  # noqa: F401
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory
from tests.service.conftest import customer, portal_client
from tests.service.test_inbound_smtp import message, smtp_port  # noqa: F401 - a fixture
from tests.service.test_inbound_webhook import MESSAGE, post

NOT_AVAILABLE = 'data-testid="not-available"'


def _on_plan(workspace: Workspace, plan: str) -> None:
    """The row and the object the test's connection holds (a task reads the connection's)."""
    Tenant.objects.filter(pk=workspace.tenant.pk).update(plan=plan)
    workspace.tenant.plan = plan


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    from django.db import connection

    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


# --- the customer portal and the ticket web form ---------------------------------------------


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL])
def test_the_portal_answers_only_while_the_plan_includes_service(
    in_alpha: Workspace, plan: str
) -> None:
    alpha = in_alpha
    ada = customer("ada@example.com", first_name="Ada")
    signed_in = portal_client(alpha, ada)
    _on_plan(alpha, plan)
    mail.outbox.clear()

    home = signed_in.get("/portal/")
    new = signed_in.post("/portal/tickets/new/", {"subject": "Broken", "description": "It is."})
    sign_in = Client(HTTP_HOST=alpha.host).post("/portal/sign-in/", {"email": "ada@example.com"})

    if plan == Plan.STARTER:
        for response in (home, new, sign_in):
            assert response.status_code == 404
            assert NOT_AVAILABLE in response.content.decode()
        assert not Ticket.objects.filter(subject="Broken").exists()
        assert mail.outbox == []
    else:
        assert home.status_code == 200
        assert NOT_AVAILABLE not in home.content.decode()
        assert Ticket.objects.filter(subject="Broken", contact=ada).count() == 1
        assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_the_satisfaction_link_of_a_survey_is_not_available_on_starter(alpha: Workspace) -> None:
    _on_plan(alpha, Plan.STARTER)
    response = Client(HTTP_HOST=alpha.host).get("/portal/rate/any-token/?score=5")
    assert response.status_code == 404
    assert NOT_AVAILABLE in response.content.decode()


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL])
def test_the_ticket_web_form_takes_tickets_only_while_the_plan_includes_service(
    alpha: Workspace, plan: str
) -> None:
    _on_plan(alpha, plan)
    visitor = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="203.0.113.7")
    fields = {"name": "Ada", "email": "ada@example.com", "subject": "Late", "message": "Where?"}

    page = visitor.get("/service/form/?embed=1")
    sent = visitor.post("/service/form/", fields)

    with schema_context(alpha.tenant.schema_name):
        made = list(Ticket.objects.values_list("subject", flat=True))
    if plan == Plan.STARTER:
        assert (page.status_code, sent.status_code) == (404, 404)
        assert NOT_AVAILABLE in sent.content.decode()
        assert made == []
    else:
        assert (page.status_code, sent.status_code) == (200, 200)
        assert made == ["Late"]


# --- inbound email -------------------------------------------------------------------------------


def test_the_inbound_webhook_refuses_mail_for_starter_with_406_and_stores_nothing(
    alpha: Workspace, bravo: Workspace
) -> None:
    _on_plan(alpha, Plan.STARTER)
    _on_plan(bravo, Plan.PROFESSIONAL)

    refused = post(alpha, MESSAGE)
    taken = post(bravo, MESSAGE)

    assert refused.status_code == 406
    assert refused.json()["error"]["code"] == "not_in_plan"
    assert "bounce" in refused.json()["error"]["message"]
    assert taken.status_code == 202
    with schema_context(alpha.tenant.schema_name):
        assert InboundMessage.objects.count() == 0
    with schema_context(bravo.tenant.schema_name):
        assert InboundMessage.objects.count() == 1


def test_a_bad_signature_is_still_a_403_on_starter(alpha: Workspace) -> None:
    # The plan is not told to whoever cannot sign for the workspace.
    _on_plan(alpha, Plan.STARTER)
    assert post(alpha, MESSAGE, signature="v1=forged").status_code == 403


def test_smtp_refuses_a_starter_workspace_at_rcpt_so_the_sender_gets_a_bounce(
    smtp_port: int,  # noqa: F811 - the fixture imported above
    world: World,
    django_db_blocker: Any,
) -> None:
    alpha = world.alpha
    with django_db_blocker.unblock():
        before = Tenant.objects.get(pk=alpha.tenant.pk).plan
        Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.STARTER)
        try:
            with (
                smtplib.SMTP("127.0.0.1", smtp_port) as client,
                pytest.raises(smtplib.SMTPRecipientsRefused) as caught,
            ):
                client.send_message(message())
            code, reply = caught.value.recipients["support@alpha.in.localhost"]
            assert (code, reply) == (550, b"5.7.1 This mailbox does not take messages now")
            with schema_context(alpha.tenant.schema_name):
                assert InboundMessage.objects.count() == 0
            # Back on a plan with service, the same message is taken.
            Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.PROFESSIONAL)
            with smtplib.SMTP("127.0.0.1", smtp_port) as client:
                assert client.send_message(message()) == {}
            with schema_context(alpha.tenant.schema_name):
                assert InboundMessage.objects.count() == 1
        finally:
            Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=before)


# --- service in the background ------------------------------------------------------------------


def _alarm(workspace: Workspace, kind: str) -> WorkspaceAlarm | None:
    return WorkspaceAlarm.objects.filter(
        kind=kind, schema_name=workspace.tenant.schema_name
    ).first()


def test_sla_alerts_of_a_starter_workspace_are_held_then_told_with_the_plan(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alpha = in_alpha
    now = timezone.now()
    ticket = service_services.ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]),
        subject="Past due",
        priority="urgent",
        now=now - datetime.timedelta(days=8),
    )
    _on_plan(alpha, Plan.STARTER)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_sla_alerts() == 0
    ticket.refresh_from_db()
    assert (ticket.first_response_breached, ticket.resolution_breached) == (False, False)
    held = _alarm(alpha, SLA_ALARM)
    assert held is not None
    assert held.due_at <= now

    _on_plan(alpha, Plan.PROFESSIONAL)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_sla_alerts() == 2
    ticket.refresh_from_db()
    assert (ticket.first_response_breached, ticket.resolution_breached) == (True, True)


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL])
def test_a_satisfaction_survey_is_sent_only_while_the_plan_includes_service(
    in_alpha: Workspace, plan: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alpha = in_alpha
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    contact = customer("ada@example.com", first_name="Ada")
    ticket = service_services.ticket_create(
        actor=agent, subject="Printer on fire", contact_id=contact.pk, assignee_id=agent.user_id
    )
    with django_capture_on_commit_callbacks() as queued:
        service_services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    _on_plan(alpha, plan)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()  # the survey's task runs after the plan changed

    survey = CsatSurvey.objects.get(ticket=ticket)
    if plan == Plan.STARTER:
        assert survey.delivery == CsatSurvey.Delivery.PENDING  # kept, unsent until the plan
        assert mail.outbox == []
    else:
        assert survey.delivery == CsatSurvey.Delivery.SENT
        assert [m.to for m in mail.outbox] == [["ada@example.com"]]


# --- marketing: public forms ------------------------------------------------------------------


FORM_FIELDS = [
    {"target": "first_name", "label": "First name", "required": True},
    {"target": "email", "label": "Email", "required": True},
]


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL])
def test_a_public_form_takes_answers_only_while_the_plan_includes_marketing(
    in_alpha: Workspace, plan: str
) -> None:
    alpha = in_alpha
    form = form_services.form_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        values={
            "name": "Demo request",
            "topic": "demo",
            "fields": FORM_FIELDS,
            "consent_channels": [],
            "lead_owner": alpha.members[Role.SALES_REP].user_id,
        },
    )
    _on_plan(alpha, plan)
    visitor = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="203.0.113.9")
    answers = {
        "token": guard.token_mint(form),
        "first_name": "Лука",
        "email": "luca@example.it",
        "utm_source": "newsletter",
    }

    page = visitor.get(f"/marketing/f/{form.public_id}/")
    embed = visitor.get(f"/marketing/f/{form.public_id}/embed.json")
    sent = visitor.post(
        f"/marketing/f/{form.public_id}/submit/", answers, HTTP_ACCEPT="application/json"
    )

    if plan == Plan.STARTER:
        assert (page.status_code, embed.status_code, sent.status_code) == (404, 404, 404)
        assert NOT_AVAILABLE in page.content.decode()
        assert sent.json()["code"] == "not_available"
        assert FormSubmission.objects.count() == 0
    else:
        assert (page.status_code, embed.status_code, sent.status_code) == (200, 200, 200)
        assert FormSubmission.objects.count() == 1


# --- marketing: sends held ----------------------------------------------------------------------


def _segment(*emails: str) -> Segment:
    segment = Segment.objects.create(name="List", kind="static")
    for address in emails:
        contact = ContactFactory.create(first_name="Ann", primary_email=address)
        SegmentMember.objects.create(segment=segment, contact=contact)
    return segment


def test_a_campaign_send_on_starter_is_held_then_sent_with_the_plan(
    in_alpha: Workspace,
    smtp_sink: Sink,  # noqa: F811 - the fixture imported above
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    alpha = in_alpha
    open_contact_rules()
    marketer = fresh(alpha.members[Role.MARKETER])
    campaign = campaign_services.campaign_create(
        actor=marketer,
        draft=CampaignDraft(
            name="Spring",
            segment_id=_segment("ann@example.com").pk,
            variants=[VariantDraft(subject="Hi", blocks=[{"type": "text", "text": "Hello"}])],
        ),
    )
    with django_capture_on_commit_callbacks() as queued:
        campaign_services.campaign_send(actor=marketer, campaign=campaign)
    _on_plan(alpha, Plan.STARTER)
    for callback in queued:
        callback()  # the worker picks the queued send up after the downgrade

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED  # kept, not canceled
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 0
    assert smtp_sink.messages == []

    assert campaign.held_by_plan_at is not None  # parked, no task coming back (ADR 0081)

    _on_plan(alpha, Plan.PROFESSIONAL)
    with django_capture_on_commit_callbacks(execute=True):
        sequences_sweep()  # the sweep resumes it (the plan change does too, ADR 0081)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert smtp_sink.to() == ["ann@example.com"]


def test_a_sequence_of_a_starter_workspace_is_held_then_runs_with_the_plan(
    in_alpha: Workspace,
    smtp_sink: Sink,  # noqa: F811 - the fixture imported above
) -> None:
    alpha = in_alpha
    open_contact_rules()
    marketer = fresh(alpha.members[Role.MARKETER])
    sequence = sequence_services.sequence_create(
        actor=marketer,
        name="Welcome",
        steps=[
            StepDraft(
                kind="email",
                delay_amount=0,
                delay_unit="hours",
                subject="Welcome",
                body="<p>Hello</p>",
            )
        ],
    )
    sequence = sequence_services.sequence_activate(actor=marketer, sequence=sequence)
    contact = ContactFactory.create(first_name="Ann", primary_email="ann@example.com")
    now = timezone.now()
    enrolment = sequence_services.enrol_contact(
        actor=marketer, sequence=sequence, contact_id=contact.pk, now=now
    )
    _on_plan(alpha, Plan.STARTER)

    sequences_sweep()

    enrolment.refresh_from_db()
    assert enrolment.state == Enrolment.State.ACTIVE
    assert enrolment.next_position == 1
    assert StepRun.objects.filter(enrolment=enrolment).count() == 0
    assert smtp_sink.messages == []
    held = _alarm(alpha, SWEEP_ALARM)
    assert held is not None
    assert held.due_at <= now

    _on_plan(alpha, Plan.PROFESSIONAL)
    sequences_sweep()
    assert StepRun.objects.get(enrolment=enrolment).status == StepRun.Status.SENT
    assert smtp_sink.to() == ["ann@example.com"]


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL])
def test_an_event_fires_triggers_only_while_the_plan_includes_marketing(
    in_alpha: Workspace, plan: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alpha = in_alpha
    manager = fresh(alpha.members[Role.MANAGER])
    rule = trigger_services.trigger_rule_create(
        actor=manager,
        name="Customers",
        definition={
            "when": {"event": "sales.lifecycle_changed", "match": {"to": "customer"}},
            "actions": [{"type": "add_tag", "tag": "ลูกค้า"}],
        },
    )
    contact = ContactFactory.create(owner=manager.user)
    _on_plan(alpha, plan)
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(actor=manager, contact=contact, changes={"lifecycle_stage": "customer"})

    contact.refresh_from_db()
    fired = TriggerFiring.objects.filter(rule=rule).count()
    if plan == Plan.STARTER:
        assert (contact.tags, fired) == ([], 0)
        assert TriggerRule.objects.get(pk=rule.pk).active is True  # kept as it was
    else:
        assert (contact.tags, fired) == (["ลูกค้า"], 1)


# --- the visible reason -------------------------------------------------------------------------


def test_the_billing_page_says_what_waits_while_the_plan_leaves_modules_out(
    alpha: Workspace,
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert 'data-testid="left-out"' not in client.get("/billing/").content.decode()
    _on_plan(alpha, Plan.STARTER)
    page = client.get("/billing/").content.decode()
    assert 'data-testid="left-out"' in page
    assert "email to the support address is bounced to its sender" in page
    assert "campaigns are held by the plan and due sequence steps wait" in page
    assert "satisfaction surveys wait" in page
    assert "ticket routing rules and SLA escalations are kept, paused" in page
