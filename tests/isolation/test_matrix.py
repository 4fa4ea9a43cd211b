"""Every page of a workspace host, asked by every kind of visitor.

The patterns are read from the tenant URLconf when the tests are collected, so a view added
later — by any module — is covered without editing this file's logic. A new view declares its
capability with ``tenants.access.requires``; a URL carrying a new kind of id needs a sample in
``SAMPLES``, and every view its success status in ``SUCCESS`` (the matrix fails naming what is
missing). The API is covered from its OpenAPI schema (test_api_matrix.py), sockets by
test_socket_matrix.py, the public host by test_public_host.py.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.regex_helper import normalize
from django_tenants.utils import schema_context

from crm_modules.dataio.models import ExportJob, ImportJob, ImportRow
from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.integrations.models import ApiKey
from crm_modules.marketing.capture.guard import token_mint
from crm_modules.marketing.models import (
    Campaign,
    CampaignVariant,
    Segment,
    SegmentMember,
    Topic,
)
from crm_modules.marketing.models_capture import Form
from crm_modules.marketing.models_deliverability import SenderDomain
from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep
from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.reporting.models import ExchangeRate, Quota, Report, ReportSchedule
from crm_modules.sales.models import CustomField, Lead, LineItem, Product, SavedView, Stage
from crm_modules.sales.services.merge import contacts_merge
from crm_modules.scoring.models import ScoreThreshold, ScoringRule
from crm_modules.service import sla
from crm_modules.service.models import (
    Article,
    BusinessHours,
    InboundMessage,
    Macro,
    RoutingRule,
    SlaEscalation,
    SlaPolicy,
    Ticket,
    TicketMessage,
)
from crm_platform import s3
from tenants import capabilities
from tenants.capabilities import Capability, Scope
from tenants.handover import handover_token_mint
from tenants.models import Membership, Team, Tenant, UserSession
from tenants.modules import customer_url_prefixes
from tenants.permissions import allows
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.factories import InvitationFactory
from tests.isolation.conftest import (
    BRAVO_AT_HOME,
    DEACTIVATED_ROLE,
    OUTSIDER,
    db_state,
    deactivate,
    request,
    templates,
)
from tests.kit_module.models import Note
from tests.sales.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
    TaskFactory,
)

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

TENANT_URLCONF = "crm_platform.urls_tenant"

# Views that answer without a capability, and why that is safe.
OPEN = {
    "handover": "redeems the one-time token that starts a session; the view checks membership",
    "signout": "any signed-in member may end their own sessions",
    "service:ticket_form": (
        "the customers' web form: anyone may open a ticket in this workspace (never another), "
        "behind a trap field and a rate limit (tests/service/test_webform.py)"
    ),
    "marketing:track_open": "a recipient's mail client; the signed token names the one "
    "recipient of this workspace (tests/isolation/test_tracking.py)",
    "marketing:track_click": "a recipient's mail client; the signed token names the recipient "
    "and a link of the campaign, never a URL (tests/isolation/test_tracking.py)",
    # A recipient's pages from a message: the signed per-contact token is the authority
    # (tests/isolation/test_recipient_links.py covers them).
    "marketing:unsubscribe": "RFC 8058 one-click unsubscribe by a signed token; no account",
    "marketing:preferences": "the preference centre by the same signed token; no account",
    "marketing:opt_in_confirm": "double opt-in confirmation by a signed, expiring token",
    # Lead capture (ADR 0035): visitors fill forms; each view finds the form by its unguessable
    # id in this workspace only and the submit checks a signed token (tests below).
    "marketing:form_page": "the hosted form page visitors fill",
    "marketing:form_embed": "what the embed script on another site draws the form from",
    "marketing:form_submit": "where hosted and embedded forms post; token, honeypot, rate limit",
    # Sequence emails (ADR 0041): the same signed tokens, naming a step run of this workspace
    # (tests/marketing/test_sequences.py covers forged and foreign tokens).
    "marketing:sequence_open": "a recipient's mail client; the signed token names the step run",
    "marketing:sequence_click": "a recipient's mail client; the signed token names the step run "
    "and a link of its step, never a URL",
    "marketing:consent_confirm": "a form's double opt-in confirmation by a signed, expiring token",
    # Mail providers (ADR 0043): the workspace's own secret is the authority
    # (tests/isolation/test_bounce_webhooks.py).
    "marketing:webhook_bounces": "bounce and complaint reports signed with the workspace secret",
    "marketing:webhook_sns": "SES reports through SNS: the workspace secret and SNS's signature",
}

# A value from workspace alpha for every URL kwarg; the matrix fails on a kwarg missing here.
# Called with the workspace and the member who should own the record (if records have owners).
SAMPLES: dict[str, Callable[[Workspace, Membership], object]] = {
    "member_id": lambda ws, owner: ws.members[Role.SALES_REP].pk,
    "invitation_id": lambda ws, owner: (
        InvitationFactory.create(tenant=ws.tenant, invited_by=ws.owner.user).pk
    ),
    "note_id": lambda ws, owner: _note(ws, owner),
    "company_id": lambda ws, owner: _sales(ws, CompanyFactory, owner),
    "contact_id": lambda ws, owner: _sales(ws, ContactFactory, owner),
    "lead_id": lambda ws, owner: _sales(ws, LeadFactory, owner),
    "deal_id": lambda ws, owner: _deal(ws, owner),
    # The line item of the deal sampled just before (URLs name the deal first).
    "item_id": lambda ws, owner: _latest(ws, LineItem),
    "pipeline_id": lambda ws, owner: _pipeline(ws),
    "product_id": lambda ws, owner: _product(ws),
    "view_id": lambda ws, owner: _saved_view(ws, owner),
    # The last stage ("Lost", empty) of the pipeline sampled just before.
    "stage_id": lambda ws, owner: _latest(ws, Stage),
    "task_id": lambda ws, owner: _sales(ws, TaskFactory, owner),
    "key_id": lambda ws, owner: _api_key(ws, owner),
    "field_id": lambda ws, owner: _custom_field(ws),
    "document_id": lambda ws, owner: _document(ws, owner),
    "version_number": lambda ws, owner: 1,
    "trashed_document_id": lambda ws, owner: _document(ws, owner, trashed=True),
    "report_id": lambda ws, owner: _report(ws, owner),
    "quota_id": lambda ws, owner: _quota(ws, owner),
    "rate_id": lambda ws, owner: _rate(ws),
    "schedule_id": lambda ws, owner: _schedule(ws, owner),
    "import_id": lambda ws, owner: _import(ws, owner),
    "export_id": lambda ws, owner: _export(ws, owner),
    "merge_id": lambda ws, owner: _merge(ws, owner),
    "rule_id": lambda ws, owner: _scoring_rule(ws),
    "threshold_id": lambda ws, owner: _threshold(ws),
    "ticket_id": lambda ws, owner: _ticket(ws, owner),
    "article_id": lambda ws, owner: _article(ws, owner),
    "escalation_id": lambda ws, owner: _escalation(ws),
    "routing_rule_id": lambda ws, owner: _routing_rule(ws),
    "policy_id": lambda ws, owner: _sla_policy(ws),
    "macro_id": lambda ws, owner: _macro(ws, owner),
    "inbound_id": lambda ws, owner: _failed_inbound(ws),
    "segment_id": lambda ws, owner: _segment(ws, owner),
    "campaign_id": lambda ws, owner: _campaign(ws, owner),
    "sequence_id": lambda ws, owner: _sequence(ws, owner),
    # An enrolment of a contact of ``owner`` in the sequence sampled just before.
    "enrolment_id": lambda ws, owner: _enrolment(ws, owner),
    "action": lambda ws, owner: "pause",
    "topic_id": lambda ws, owner: _topic(ws),
    "domain_id": lambda ws, owner: _sender_domain(ws),
    "form_id": lambda ws, owner: _form(ws).pk,
    "trigger_id": lambda ws, owner: _trigger(ws, owner),
    # The hosted form's id (open views only).
    "public_id": lambda ws, owner: _form(ws).public_id,
}


def _campaign(workspace: Workspace, owner: Membership) -> int:
    """A draft campaign of one variant to a static list of one contact of ``owner``."""
    with schema_context(workspace.tenant.schema_name):
        segment = Segment.objects.get(pk=_segment(workspace, owner))
        campaign = Campaign.objects.create(name="Sample", segment=segment, created_by=owner.user)
        CampaignVariant.objects.create(
            campaign=campaign,
            letter="A",
            subject="Hello {{ first_name }}",
            blocks=[{"type": "button", "text": "Go", "href": "https://example.com/"}],
            links=["https://example.com/"],
        )
        return campaign.pk


def _sender_domain(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return SenderDomain.objects.create(
            domain=f"d{secrets.token_hex(4)}.example.com",
            dkim_selector="sample",
            dkim_private_key="-",
            dkim_public_key="-",
        ).pk


def _sequence(workspace: Workspace, owner: Membership) -> int:
    """An active sequence of one email step, a day after enrolment: the test's latest one, so
    that a path naming a sequence and an enrolment names one of the other, whichever of the
    two is filled in first."""
    with schema_context(workspace.tenant.schema_name):
        latest = Sequence.objects.order_by("-id").first()
        if latest is not None:
            return latest.pk
        sequence = Sequence.objects.create(
            name="Sample", status=Sequence.Status.ACTIVE, created_by=owner.user
        )
        SequenceStep.objects.create(
            sequence=sequence,
            position=1,
            kind="email",
            delay_amount=1,
            delay_unit="days",
            subject="Hello {{ first_name }}",
            body="<p>Hello</p>",
        )
        return sequence.pk


def _enrolment(workspace: Workspace, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        sequence = Sequence.objects.get(pk=_sequence(workspace, owner))
        return Enrolment.objects.create(
            sequence=sequence,
            contact=ContactFactory.create(owner=owner.user),
            due_at=timezone.now() + datetime.timedelta(days=1),
        ).pk


def _topic(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return Topic.objects.create(key=f"sample-{secrets.token_hex(4)}", name="Sample").pk


def _form(workspace: Workspace) -> Form:
    """A form whose leads go to the workspace's Sales rep (its Owner in bravo)."""
    with schema_context(workspace.tenant.schema_name):
        return Form.objects.create(
            name="Sample",
            fields=[{"target": "email", "label": "Email", "required": True}],
            lead_owner=workspace.members.get(Role.SALES_REP, workspace.owner).user,
        )


def _segment(workspace: Workspace, owner: Membership) -> int:
    """A static list holding one contact of ``owner``."""
    with schema_context(workspace.tenant.schema_name):
        segment = Segment.objects.create(name="Sample", kind="static", created_by=owner.user)
        SegmentMember.objects.create(
            segment=segment, contact=ContactFactory.create(owner=owner.user)
        )
        return segment.pk


def _trigger(workspace: Workspace, owner: Membership) -> int:
    """An event-trigger rule with one firing for a contact of ``owner`` in its run log."""
    with schema_context(workspace.tenant.schema_name):
        rule = TriggerRule.objects.create(
            name="Gold",
            definition={
                "when": {"event": "sales.tag_added", "match": {"tag": "VIP"}},
                "delay_minutes": 0,
                "actions": [{"type": "add_tag", "tag": "Gold"}],
            },
            listens_to="sales.tag_added",
            run_as=owner.user,
        )
        TriggerFiring.objects.create(
            rule=rule,
            contact=ContactFactory.create(owner=owner.user),
            occurrence="sample",
            status=TriggerFiring.Status.DONE,
            due_at=timezone.now(),
            outcome=[{"action": "add_tag", "status": "done", "message": "Tagged Gold."}],
        )
        return rule.pk


def _ticket(workspace: Workspace, owner: Membership) -> int:
    """An open ticket of a contact, given to ``owner``, with one reply; beside it another open
    ticket and a macro, which the operations naming a second ticket (merge) or a macro find
    without writing."""
    with schema_context(workspace.tenant.schema_name):
        Ticket.objects.create(subject="Beside", status="open")
        Macro.objects.create(name="Thanks", body="Grazie {{ agent.first_name }}")
        contact = ContactFactory.create(owner=owner.user)
        ticket = Ticket.objects.create(
            subject="Sample", contact=contact, assignee=owner.user, status="open"
        )
        TicketMessage.objects.create(
            ticket=ticket, kind="reply", direction="outbound", body="Hello", author=owner.user
        )
        return ticket.pk


def _article(workspace: Workspace, owner: Membership) -> int:
    """An internal draft (staff only)."""
    with schema_context(workspace.tenant.schema_name):
        article = Article.objects.create(
            title="Sample", body="Text", language="en", created_by=owner.user
        )
        Article.objects.filter(pk=article.pk).update(group=article.pk)
        return article.pk


def _escalation(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        policy = sla.policy_default(time_zone="UTC")
        return SlaEscalation.objects.create(policy=policy, target="any", action="raise_priority").pk


def _sla_policy(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        sla.policy_default(time_zone="UTC")
        hours = BusinessHours.objects.create(name="Gold", openings=sla.DEFAULT_OPENINGS)
        return SlaPolicy.objects.create(name="Gold", hours=hours, tiers=["gold"], position=1).pk


def _routing_rule(workspace: Workspace) -> int:
    team = Team.objects.create(tenant=workspace.tenant, name=f"Route {secrets.token_hex(3)}")
    with schema_context(workspace.tenant.schema_name):
        return RoutingRule.objects.create(name="Sample", team_id=team.pk).pk


def _failed_inbound(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return InboundMessage.objects.create(
            message_id=f"<failed-{secrets.token_hex(4)}@example.com>",
            source=InboundMessage.Source.SMTP,
            status=InboundMessage.Status.FAILED,
            reason="The message has no sender address (From).",
            raw=b"Subject: broken\r\n\r\nno sender",
        ).pk


def _macro(workspace: Workspace, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        return Macro.objects.create(
            name="Thanks", body="Hello {{ contact.first_name | there }}", created_by=owner.user
        ).pk


def _report(workspace: Workspace, owner: Membership) -> int:
    """A report over a source its owner's reports read: a Marketer's read marketing's sources
    only (ADR 0063), everyone else's the deals."""
    source = "attribution" if owner.role == Role.MARKETER else "deals"
    with schema_context(workspace.tenant.schema_name):
        return Report.objects.create(
            name="Sample", definition={"source": source}, owner=owner.user
        ).pk


def _schedule(workspace: Workspace, owner: Membership) -> int:
    """A weekly email of the owner's own report, to the owner."""
    report_id = _report(workspace, owner)
    with schema_context(workspace.tenant.schema_name):
        return ReportSchedule.objects.create(
            report_id=report_id,
            owner=owner.user,
            frequency="weekly",
            hour=8,
            time_zone="UTC",
            recipient_ids=[owner.user_id],
            next_run_at=timezone.now(),
        ).pk


def _quota(workspace: Workspace, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        return Quota.objects.create(
            owner=owner.user, month=datetime.date(2026, 3, 1), amount=Decimal("100")
        ).pk


def _rate(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return ExchangeRate.objects.create(
            base=workspace.tenant.currency,
            currency="EUR",
            rate=Decimal("1.1"),
            valid_from=datetime.date(2026, 3, 1),
        ).pk


def _import(workspace: Workspace, owner: Membership) -> int:
    """An import waiting for its mapping, with one row that fails (for the error report)."""
    schema = workspace.tenant.schema_name
    with schema_context(schema):
        job = ImportJob.objects.create(
            entity="contact",
            file_name="people.csv",
            file_size=20,
            file_format="csv",
            encoding="utf-8",
            delimiter=",",
            headers=["Email"],
            sample=[[1, ["not-an-email"]]],
            mapping={"0": "email"},
            created_by=owner.user,
        )
        job.file_key = s3.data_file_key(
            schema_name=schema, kind="imports", file_uuid=str(job.uuid), name="source"
        )
        job.save(update_fields=["file_key"])
        ImportRow.objects.create(
            job=job,
            number=1,
            outcome=ImportRow.Outcome.FAILED,
            errors=[{"column": "Email", "reason": "Enter a valid email address."}],
        )
        return job.pk


def _export(workspace: Workspace, owner: Membership) -> int:
    """A finished background export of the member's."""
    schema = workspace.tenant.schema_name
    with schema_context(schema):
        job = ExportJob.objects.create(
            entity="contact",
            file_format="csv",
            status=ExportJob.Status.DONE,
            row_count=1,
            created_by=owner.user,
        )
        job.file_key = s3.data_file_key(
            schema_name=schema, kind="exports", file_uuid=str(job.uuid), name="export.csv"
        )
        job.save(update_fields=["file_key"])
        return job.pk


def _scoring_rule(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return ScoringRule.objects.create(
            entity="lead", name="Sample", kind="consent", channel="email", points=-5
        ).pk


def _threshold(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return ScoreThreshold.objects.create(entity="lead", min_score=50, task_title="Call").pk


def _merge(workspace: Workspace, owner: Membership) -> int:
    """A merge of two contacts of ``owner`` into one, done by the workspace's Owner."""
    with schema_context(workspace.tenant.schema_name):
        keep, gone = ContactFactory.create_batch(2, owner=owner.user)
        actor = Membership.objects.select_related("tenant", "user").get(pk=workspace.owner.pk)
        return contacts_merge(actor=actor, survivor_id=keep.pk, other_ids=[gone.pk]).pk


def _custom_field(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        code = f"sample_{secrets.token_hex(4)}"
        return CustomField.objects.create(entity="contact", code=code, label="S", type="text").pk


def _api_key(workspace: Workspace, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        return ApiKey.objects.create(
            name="Sample", prefix=secrets.token_hex(6), digest="0" * 64, created_by=owner.user
        ).pk


def _sales(workspace: Workspace, factory: Any, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        return int(factory.create(owner=owner.user).pk)


def _deal(workspace: Workspace, owner: Membership) -> int:
    """A deal with one line item."""
    with schema_context(workspace.tenant.schema_name):
        deal = DealFactory.create(owner=owner.user)
        product = Product.objects.get(pk=_product(workspace))
        LineItem.objects.create(
            deal=deal,
            product=product,
            name=product.name,
            quantity=1,
            unit_price=product.unit_price,
            total=product.unit_price,
        )
        return int(deal.pk)


def _latest(workspace: Workspace, model: Any) -> int:
    with schema_context(workspace.tenant.schema_name):
        return int(model.objects.order_by("-id").values_list("id", flat=True)[0])


def _pipeline(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return int(PipelineFactory.create().pk)


def _saved_view(workspace: Workspace, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        return SavedView.objects.create(
            entity="contact", name="Mine", query="stage=lead", owner=owner.user
        ).pk


def _product(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return Product.objects.create(name="Widget", unit_price=10, currency="USD").pk


def _note(workspace: Workspace, owner: Membership) -> int:
    with schema_context(workspace.tenant.schema_name):
        return Note.objects.create(title="Sample", owner=owner.user).pk


def _document(workspace: Workspace, owner: Membership, *, trashed: bool = False) -> int:
    """A document with two versions (the second current), in the trash if asked."""
    schema = workspace.tenant.schema_name
    with schema_context(schema):
        document = Document.objects.create(
            name="Sample.pdf",
            content_type="application/pdf",
            size=4,
            current_version=2,
            version_counter=2,
            uploaded_by=owner.user,
            deleted_at=timezone.now() if trashed else None,
        )
        for number in (1, 2):
            key = s3.document_key(
                schema_name=schema, document_uuid=str(document.uuid), version=number
            )
            # The bytes are there, so that a download streamed by the server finds them.
            s3.object_put(schema_name=schema, key=key, data=b"%PDF", content_type="application/pdf")
            DocumentVersion.objects.create(
                document=document,
                number=number,
                key=key,
                size=4,
                content_type="application/pdf",
                sniffed_type="application/pdf",
                thumbnail_key=s3.thumbnail_key(
                    schema_name=schema, document_uuid=str(document.uuid), version=number
                ),
                uploaded_by=owner.user,
            )
        return document.pk


# What an allowed member is answered, per URL name and method (an empty POST for forms).
SUCCESS: dict[str, dict[str, int]] = {
    "home": {"GET": 200, "POST": 405},
    "members": {"GET": 200, "POST": 405},
    "invite": {"GET": 405, "POST": 400},
    "mention_suggestions": {"GET": 200, "POST": 405},
    "members_export": {"GET": 200, "POST": 405},
    "member_role": {"GET": 405, "POST": 302},
    "member_deactivate": {"GET": 405, "POST": 302},
    "member_reactivate": {"GET": 405, "POST": 302},
    "member_make_owner": {"GET": 405, "POST": 302},
    "invitation_resend": {"GET": 405, "POST": 302},
    "invitation_revoke": {"GET": 405, "POST": 302},
    "roles": {"GET": 200, "POST": 405},
    "settings": {"GET": 200, "POST": 400},
    "audit_log": {"GET": 200, "POST": 405},
    "style_guide": {"GET": 200, "POST": 405},
    "billing:overview": {"GET": 200, "POST": 405},
    # Without a plan the choice is refused with a message on the billing page (no Stripe call).
    "billing:subscribe": {"GET": 405, "POST": 302},
    # Without a Checkout Session of this workspace in the query: not found.
    "billing:checkout_return": {"GET": 404, "POST": 405},
    # Without a subscription every change is refused with a message on the billing page.
    "billing:change_seats": {"GET": 302, "POST": 302},
    "billing:change_plan": {"GET": 302, "POST": 302},
    "billing:withdraw_plan_change": {"GET": 405, "POST": 302},
    "billing:cancel": {"GET": 405, "POST": 302},
    "billing:resume": {"GET": 405, "POST": 302},
    # Without a Stripe customer: refused with a message on the billing page.
    "billing:portal": {"GET": 405, "POST": 302},
    "kit_module:list": {"GET": 200, "POST": 405},
    "kit_module:rename": {"GET": 405, "POST": 302},
    "sales:contact_list": {"GET": 200, "POST": 405},
    "sales:company_list": {"GET": 200, "POST": 405},
    "sales:deal_board": {"GET": 200, "POST": 405},
    "sales:lead_list": {"GET": 200, "POST": 405},
    "sales:task_list": {"GET": 200, "POST": 405},
    "sales:contact_new": {"GET": 200, "POST": 400},
    "sales:task_new": {"GET": 200, "POST": 400},
    "sales:contact_detail": {"GET": 200, "POST": 405},
    "sales:contact_panels": {"GET": 200, "POST": 405},
    "sales:contact_log": {"GET": 405, "POST": 400},
    "sales:company_new": {"GET": 200, "POST": 400},
    "sales:company_detail": {"GET": 200, "POST": 405},
    "sales:company_panels": {"GET": 200, "POST": 405},
    "sales:company_log": {"GET": 405, "POST": 400},
    "sales:deal_new": {"GET": 200, "POST": 400},
    "sales:deal_detail": {"GET": 200, "POST": 405},
    "sales:deal_panels": {"GET": 200, "POST": 405},
    "sales:deal_log": {"GET": 405, "POST": 400},
    "sales:deal_move": {"GET": 405, "POST": 400},
    "sales:lead_new": {"GET": 200, "POST": 400},
    "sales:lead_detail": {"GET": 200, "POST": 405},
    "sales:lead_panels": {"GET": 200, "POST": 405},
    "sales:lead_convert": {"GET": 405, "POST": 302},
    "sales:task_done": {"GET": 405, "POST": 302},
    "sales:search": {"GET": 200, "POST": 405},
    "sales:deal_list": {"GET": 200, "POST": 405},
    "sales:contact_consent": {"GET": 405, "POST": 400},
    "sales:contact_bulk": {"GET": 405, "POST": 302},
    "sales:company_bulk": {"GET": 405, "POST": 302},
    "sales:lead_bulk": {"GET": 405, "POST": 302},
    "sales:deal_bulk": {"GET": 405, "POST": 302},
    "sales:view_save": {"GET": 405, "POST": 302},
    "sales:view_delete": {"GET": 405, "POST": 302},
    "sales:contact_custom": {"GET": 405, "POST": 302},
    "sales:company_custom": {"GET": 405, "POST": 302},
    "sales:deal_custom": {"GET": 405, "POST": 302},
    "sales:lead_custom": {"GET": 405, "POST": 302},
    "sales:deal_line_items": {"GET": 405, "POST": 400},
    "sales:deal_products": {"GET": 200, "POST": 405},
    # Custom fields: an empty post is refused naming the field; archive redirects to the list.
    "sales:custom_fields": {"GET": 200, "POST": 400},
    "sales:custom_field_edit": {"GET": 200, "POST": 400},
    "sales:custom_field_archive": {"GET": 405, "POST": 302},
    "sales:pipeline_admin": {"GET": 200, "POST": 400},
    "sales:pipeline_edit": {"GET": 200, "POST": 400},
    "sales:product_list": {"GET": 200, "POST": 405},
    "sales:product_new": {"GET": 200, "POST": 400},
    "sales:product_edit": {"GET": 200, "POST": 400},
    "sales:contact_duplicates": {"GET": 200, "POST": 405},
    "sales:company_duplicates": {"GET": 200, "POST": 405},
    "sales:duplicates": {"GET": 200, "POST": 405},
    "sales:duplicates_scan": {"GET": 405, "POST": 302},
    "sales:contact_merge": {"GET": 200, "POST": 400},
    "sales:company_merge": {"GET": 200, "POST": 400},
    "sales:merge_undo": {"GET": 405, "POST": 302},
    "scoring:rules": {"GET": 200, "POST": 405},
    "scoring:rule_new": {"GET": 405, "POST": 400},
    "scoring:rule_delete": {"GET": 405, "POST": 302},
    "scoring:threshold_new": {"GET": 405, "POST": 400},
    "scoring:threshold_delete": {"GET": 405, "POST": 302},
    "scoring:recompute": {"GET": 405, "POST": 400},
    "integrations:api_keys": {"GET": 200, "POST": 400},
    "integrations:api_key_revoke": {"GET": 405, "POST": 302},
    "documents:list": {"GET": 200, "POST": 405},
    "documents:upload_start": {"GET": 405, "POST": 400},
    # Without a logo: not found.
    "documents:logo": {"GET": 404, "POST": 405},
    "documents:logo_upload_start": {"GET": 405, "POST": 400},
    "documents:logo_upload_complete": {"GET": 405, "POST": 400},
    "documents:logo_remove": {"GET": 405, "POST": 302},
    "documents:upload_complete": {"GET": 405, "POST": 400},
    "documents:upload_resume": {"GET": 405, "POST": 400},
    "documents:upload_abort": {"GET": 405, "POST": 400},
    "documents:detail": {"GET": 200, "POST": 405},
    "documents:download": {"GET": 302, "POST": 405},
    "documents:thumbnail": {"GET": 302, "POST": 405},
    "documents:version_upload_start": {"GET": 405, "POST": 400},
    "documents:version_restore": {"GET": 405, "POST": 302},
    "documents:delete": {"GET": 405, "POST": 302},
    "documents:restore": {"GET": 405, "POST": 302},
    # Without the record's type and id (the panel's hidden fields) the record is not found,
    # and the form is refused naming the field.
    "documents:link_choices": {"GET": 404, "POST": 405},
    "documents:link": {"GET": 405, "POST": 400},
    "documents:unlink": {"GET": 405, "POST": 400},
    "reporting:dashboard": {"GET": 200, "POST": 405},
    # Without ?key= there is no chart to show.
    "reporting:chart": {"GET": 404, "POST": 405},
    "reporting:layout": {"GET": 200, "POST": 405},
    "reporting:layout_change": {"GET": 405, "POST": 400},
    # Without ?d= there is no definition to drill into.
    "reporting:drill": {"GET": 400, "POST": 405},
    "reporting:report_list": {"GET": 200, "POST": 405},
    "reporting:report_save": {"GET": 405, "POST": 400},
    "reporting:report_detail": {"GET": 200, "POST": 405},
    "reporting:report_chart": {"GET": 200, "POST": 405},
    "reporting:report_export": {"GET": 200, "POST": 405},
    "reporting:report_share": {"GET": 405, "POST": 302},
    "reporting:report_pin": {"GET": 405, "POST": 302},
    "reporting:report_delete": {"GET": 405, "POST": 302},
    # Without a form there is no frequency: the report page names the field.
    "reporting:schedule_create": {"GET": 405, "POST": 400},
    # Without ``paused=1`` the schedule is resumed (it is already running).
    "reporting:schedule_pause": {"GET": 405, "POST": 302},
    "reporting:schedule_delete": {"GET": 405, "POST": 302},
    "reporting:builder": {"GET": 200, "POST": 405},
    # Without parameters the preview names the missing data source.
    "reporting:preview": {"GET": 400, "POST": 405},
    "reporting:adoption": {"GET": 200, "POST": 405},
    "reporting:quotas": {"GET": 200, "POST": 405},
    # Without a form there is no member, month or amount.
    "reporting:quota_set": {"GET": 405, "POST": 400},
    "reporting:quota_delete": {"GET": 405, "POST": 302},
    "reporting:rates": {"GET": 200, "POST": 405},
    # Without a form there is no currency, rate or day.
    "reporting:rate_set": {"GET": 405, "POST": 400},
    "reporting:rate_delete": {"GET": 405, "POST": 302},
    "dataio:import_list": {"GET": 200, "POST": 405},
    "dataio:import_upload": {"GET": 405, "POST": 400},
    "dataio:import_detail": {"GET": 200, "POST": 405},
    "dataio:import_mapping": {"GET": 405, "POST": 400},
    "dataio:import_field_create": {"GET": 405, "POST": 400},
    "dataio:import_start": {"GET": 405, "POST": 302},
    "dataio:import_progress": {"GET": 200, "POST": 405},
    "dataio:import_errors": {"GET": 200, "POST": 405},
    "dataio:import_undo": {"GET": 405, "POST": 302},
    "dataio:export_contact": {"GET": 405, "POST": 200},
    "dataio:export_company": {"GET": 405, "POST": 200},
    "dataio:export_lead": {"GET": 405, "POST": 200},
    "dataio:export_deal": {"GET": 405, "POST": 200},
    "dataio:export_list": {"GET": 200, "POST": 405},
    "dataio:export_download": {"GET": 302, "POST": 405},
    # Without a range: 400 naming the field (the trial has no audit export; Enterprise does).
    "dataio:audit_log_export": {"GET": 400, "POST": 405},
    "service:inbox": {"GET": 200, "POST": 405},
    "service:ticket_new": {"GET": 200, "POST": 400},
    # Without tickets chosen the inbox is shown again with the message.
    "service:tickets_bulk": {"GET": 405, "POST": 302},
    "service:sla": {"GET": 200, "POST": 400},
    "service:channels": {"GET": 200, "POST": 405},
    "service:portal_settings": {"GET": 200, "POST": 400},
    "service:inbound_failed": {"GET": 200, "POST": 405},
    # Queued for processing again, then back to the list of failed mail.
    "service:inbound_retry": {"GET": 405, "POST": 302},
    "service:csat": {"GET": 200, "POST": 405},
    "service:articles": {"GET": 200, "POST": 405},
    "service:article_new": {"GET": 200, "POST": 400},
    # Without a name the category is refused with a message on the articles page.
    "service:article_category_new": {"GET": 405, "POST": 302},
    "service:article_suggest": {"GET": 200, "POST": 405},
    "service:article": {"GET": 200, "POST": 405},
    "service:article_edit": {"GET": 405, "POST": 400},
    "service:ticket_detail": {"GET": 200, "POST": 405},
    "service:ticket_reply": {"GET": 405, "POST": 400},
    "service:ticket_fields": {"GET": 405, "POST": 400},
    # Nothing posted changes no custom field: back to the ticket page.
    "service:ticket_custom": {"GET": 405, "POST": 302},
    # Without an assignee chosen the ticket page is shown again with the message.
    "service:ticket_assign": {"GET": 405, "POST": 302},
    # Without a form: no target, no team, no agent, no name (each names the field).
    "service:sla_escalation_add": {"GET": 405, "POST": 400},
    "service:sla_escalation_delete": {"GET": 405, "POST": 302},
    # Without a form the policy is refused naming its name.
    "service:sla_policies": {"GET": 200, "POST": 400},
    "service:sla_policy": {"GET": 200, "POST": 400},
    "service:sla_policy_move": {"GET": 405, "POST": 302},
    "service:sla_policy_delete": {"GET": 405, "POST": 302},
    # Without a choice the inbox is shown again with the message.
    "service:availability": {"GET": 405, "POST": 302},
    "service:routing": {"GET": 200, "POST": 405},
    "service:routing_rule_create": {"GET": 405, "POST": 400},
    "service:routing_rule_update": {"GET": 405, "POST": 400},
    "service:routing_rule_delete": {"GET": 405, "POST": 302},
    "service:routing_team": {"GET": 405, "POST": 400},
    "service:routing_agent": {"GET": 405, "POST": 400},
    "service:macros": {"GET": 200, "POST": 405},
    "service:macro_new": {"GET": 200, "POST": 400},
    "service:macro_edit": {"GET": 200, "POST": 400},
    "service:macro_delete": {"GET": 405, "POST": 302},
    # Without a macro, a ticket number or a message the ticket page is shown with the message.
    "service:macro_apply": {"GET": 405, "POST": 302},
    "service:macro_preview": {"GET": 400, "POST": 405},
    "service:ticket_merge": {"GET": 405, "POST": 302},
    "service:ticket_split": {"GET": 405, "POST": 302},
    "marketing:segments": {"GET": 200, "POST": 405},
    "marketing:segment_new": {"GET": 200, "POST": 400},
    # The product picker answers the products matching what was typed (none typed: the first).
    "marketing:segment_products": {"GET": 200, "POST": 405},
    "marketing:segment_detail": {"GET": 200, "POST": 405},
    "marketing:campaigns": {"GET": 200, "POST": 405},
    "marketing:campaign_new": {"GET": 200, "POST": 400},
    "marketing:campaign_detail": {"GET": 200, "POST": 405},
    "marketing:campaign_edit": {"GET": 200, "POST": 400},
    "marketing:campaign_preview": {"GET": 200, "POST": 405},
    "marketing:campaign_test_send": {"GET": 405, "POST": 302},
    "marketing:campaign_send": {"GET": 405, "POST": 302},
    "marketing:campaign_cancel": {"GET": 405, "POST": 302},
    # The contact-rules forms of the settings page: back to it, with a message on bad input.
    "marketing:contact_rules": {"GET": 200, "POST": 302},
    "marketing:topic_new": {"GET": 405, "POST": 302},
    "marketing:topic_delete": {"GET": 405, "POST": 302},
    "marketing:suppression_new": {"GET": 405, "POST": 302},
    "marketing:forms": {"GET": 200, "POST": 405},
    "marketing:form_new": {"GET": 200, "POST": 400},
    "marketing:form_detail": {"GET": 200, "POST": 405},
    "marketing:form_edit": {"GET": 200, "POST": 400},
    "marketing:attribution": {"GET": 200, "POST": 405},
    # Without a campaign the attribution page shows the message.
    "marketing:campaign_cost_set": {"GET": 405, "POST": 302},
    "marketing:attribution_rebuild": {"GET": 405, "POST": 302},
    "marketing:sequences": {"GET": 200, "POST": 405},
    "marketing:sequence_new": {"GET": 200, "POST": 400},
    "marketing:sequence_detail": {"GET": 200, "POST": 405},
    "marketing:sequence_edit": {"GET": 200, "POST": 400},
    "marketing:sequence_activate": {"GET": 405, "POST": 302},
    # Without a contact, list or segment: back to the page with the message.
    "marketing:sequence_enrol": {"GET": 405, "POST": 302},
    "marketing:contact_enrol": {"GET": 405, "POST": 302},
    "marketing:enrolment_action": {"GET": 405, "POST": 302},
    "marketing:triggers": {"GET": 200, "POST": 405},
    "marketing:trigger_new": {"GET": 200, "POST": 400},
    "marketing:trigger_detail": {"GET": 200, "POST": 405},
    "marketing:trigger_edit": {"GET": 200, "POST": 400},
    "marketing:sender_domains": {"GET": 200, "POST": 405},
    # An empty form: the list page again, naming the field.
    "marketing:sender_domain_new": {"GET": 405, "POST": 400},
    "marketing:sender_domain_detail": {"GET": 200, "POST": 405},
    # Checked (the test DNS answers nothing: "unreachable"), back to the page with the result.
    "marketing:sender_domain_check": {"GET": 405, "POST": 302},
    "marketing:sender_domain_delete": {"GET": 405, "POST": 302},
    # Not paused: back to the page with the message.
    "marketing:bulk_sending_resume": {"GET": 405, "POST": 302},
    "marketing:webhook_secret_rotate": {"GET": 405, "POST": 302},
}

METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Endpoint:
    route: str
    name: str | None  # with its namespace: "kit_module:list"
    callback: Callable[..., HttpResponse]
    path_format: str
    kwargs: tuple[str, ...]

    def __str__(self) -> str:
        return f"/{self.route}"


def _bare(regex: str) -> str:
    return regex.removeprefix("^").removesuffix(r"\Z").removesuffix("$")


def _walk(
    resolver: URLResolver, regex: str = "", route: str = "", namespace: str = ""
) -> Iterator[Endpoint]:
    for entry in resolver.url_patterns:
        full_regex = regex + _bare(entry.pattern.regex.pattern)
        full_route = route + _bare(str(entry.pattern))
        if full_route.startswith("api/"):
            continue  # the API matrix covers these, from the OpenAPI schema
        if f"/{full_route}".startswith(customer_url_prefixes()):
            continue  # the customers' realm: test_portal_matrix.py covers these
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, full_regex, full_route, inner)
            continue
        assert isinstance(entry, URLPattern)
        # The first possibility is the one with every optional group filled in.
        path_format, kwargs = normalize(full_regex)[0]
        yield Endpoint(
            route=full_route,
            name=f"{namespace}{entry.name}" if entry.name else None,
            callback=entry.callback,
            path_format=path_format,
            kwargs=tuple(kwargs),
        )


ENDPOINTS = list(_walk(get_resolver(TENANT_URLCONF)))


def _declared(endpoint: Endpoint) -> Capability:
    capability: Capability | None = getattr(endpoint.callback, "required_capability", None)
    if capability is None:
        return capabilities.USE_WORKSPACE  # reported by the test below that requires one
    return capability


GUARDED = [endpoint for endpoint in ENDPOINTS if endpoint.name not in OPEN]
WITH_OBJECTS = [endpoint for endpoint in GUARDED if endpoint.kwargs]


def _by_name(name: str) -> Endpoint:
    (endpoint,) = (e for e in ENDPOINTS if e.name == name)
    return endpoint


def _capability(endpoint: Endpoint) -> Capability:
    capability = getattr(endpoint.callback, "required_capability", None)
    if capability is None:
        pytest.fail(
            f"{endpoint} ({endpoint.name}) declares no capability: decorate the view with "
            "tenants.access.requires(...), or add it to OPEN in this file with the reason."
        )
    assert capabilities.get(capability.code) is capability
    return capability


def _path(endpoint: Endpoint, workspace: Workspace, owner: Membership | None = None) -> str:
    """The endpoint's path with sample ids; records are owned by ``owner`` (default: the
    workspace's Owner)."""
    missing = [kwarg for kwarg in endpoint.kwargs if kwarg not in SAMPLES]
    if missing:
        pytest.fail(
            f"{endpoint} has URL kwarg(s) {missing} without a sample value: add a sample for "
            "each to SAMPLES in tests/isolation/test_matrix.py."
        )
    owner = owner or workspace.owner
    values = {k: SAMPLES[k](workspace, owner) for k in endpoint.kwargs}
    path = "/" + endpoint.path_format % values
    # The built URL must reach the view under test, not a neighbour.
    assert resolve(path, urlconf=TENANT_URLCONF).func is endpoint.callback
    return path


def _sign_in_url(path: str, workspace: Workspace) -> str:
    enter = f"/w/{workspace.tenant.slug}/?{urlencode({'next': path})}"
    return f"http://localhost/accounts/login/?{urlencode({'next': enter})}"


# --- every guarded view, every role -----------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_every_view_declares_a_capability_or_is_listed_open(endpoint: Endpoint) -> None:
    if endpoint.name in OPEN:
        assert getattr(endpoint.callback, "required_capability", None) is None, (
            f"{endpoint} now declares a capability: remove it from OPEN so the matrix covers it"
        )
    else:
        _capability(endpoint)


def test_open_list_names_only_existing_views() -> None:
    assert set(OPEN) <= {endpoint.name for endpoint in ENDPOINTS}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_member_is_answered_what_their_role_allows(
    endpoint: Endpoint,
    role: str,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    capability = _capability(endpoint)
    # The record (if any) belongs to the visitor, so only the role and the method decide.
    path = _path(endpoint, alpha, owner=alpha.members[role])
    client = visit(role, alpha.host)

    if allows(alpha.members[role], capability, reading=method == "GET"):
        response = request(client, method, path)
        expected = _success(endpoint)[method]
        assert response.status_code == expected, f"{role} {method} {path}"
    else:
        response = assert_refused_without_effect(client, method, path, 403)
        assert "403.html" in templates(response)


def _success(endpoint: Endpoint) -> dict[str, int]:
    if endpoint.name not in SUCCESS:
        pytest.fail(
            f"{endpoint} ({endpoint.name}) has no expected success status: add it to SUCCESS in "
            "tests/isolation/test_matrix.py."
        )
    return SUCCESS[endpoint.name]


# Every (view on a record, role whose scope does not reach every record) pair.
NARROW = [
    pytest.param(endpoint, role, id=f"{endpoint}-{role}")
    for endpoint in WITH_OBJECTS
    if _declared(endpoint).is_record_scoped
    for role in sorted(_declared(endpoint).roles)
    if _declared(endpoint).scope_for(role) is not Scope.ALL
]


def test_the_matrix_covers_a_role_scoped_to_its_own_records() -> None:
    # The test module's notes guarantee at least one case, so the test below never runs empty.
    assert NARROW


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("endpoint", "role"), NARROW)
def test_another_members_record_is_not_found_by_a_role_scoped_to_its_own(
    endpoint: Endpoint,
    role: str,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    # The Owner's record: outside any narrow scope (the Owner is in no team).
    path = _path(endpoint, alpha, owner=alpha.owner)
    if _success(endpoint)[method] == 405:
        assert request(visit(role, alpha.host), method, path).status_code == 405
        return
    response = assert_refused_without_effect(visit(role, alpha.host), method, path, 404)
    assert "404.html" in templates(response)


# Every (view on a record, role) pair that only the workspace's "restrict record visibility"
# setting narrows (a Sales rep seeing every record until an admin restricts them).
# The URL ids of records that have an owner; the visibility setting narrows only those.
OWNED_RECORD_KWARGS = {"company_id", "contact_id", "deal_id", "lead_id", "task_id"}
RESTRICTED = [
    pytest.param(endpoint, role, id=f"{endpoint}-{role}")
    for endpoint in WITH_OBJECTS
    if OWNED_RECORD_KWARGS & set(endpoint.kwargs) and _declared(endpoint).is_record_scoped
    for role in sorted(_declared(endpoint).roles)
    if _declared(endpoint).restricted_scope_for(role) < _declared(endpoint).scope_for(role)
]


def test_the_matrix_covers_a_role_the_visibility_setting_narrows() -> None:
    assert RESTRICTED


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("endpoint", "role"), RESTRICTED)
def test_a_restricted_workspace_hides_another_members_record(
    endpoint: Endpoint,
    role: str,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(endpoint, alpha, owner=alpha.owner)
    client = visit(role, alpha.host)
    if _success(endpoint)[method] == 405:
        assert request(client, method, path).status_code == 405
        return
    # Unrestricted, the role reaches the record (GET shows it) ...
    if method == "GET":
        assert request(client, method, path).status_code == _success(endpoint)[method]
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    # ... restricted, it is not found, as a record of another workspace.
    response = assert_refused_without_effect(client, method, path, 404)
    assert "404.html" in templates(response)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_member_of_another_workspace_gets_not_found(
    endpoint: Endpoint,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(endpoint, alpha)
    response = assert_refused_without_effect(visit(OUTSIDER, alpha.host), method, path, 404)
    assert "404.html" in templates(response)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_anonymous_visitor_is_sent_to_sign_in(
    endpoint: Endpoint,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(endpoint, alpha)
    response = assert_refused_without_effect(visit(None, alpha.host), method, path, 302)
    assert response["Location"] == _sign_in_url(path, alpha)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_deactivated_member_is_refused_with_an_explanation(
    endpoint: Endpoint,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    deactivate(alpha.members[DEACTIVATED_ROLE])
    path = _path(endpoint, alpha)
    response = assert_refused_without_effect(visit(DEACTIVATED_ROLE, alpha.host), method, path, 403)
    assert "app/deactivated.html" in templates(response)
    assert b'data-testid="access-refused"' in response.content


@pytest.mark.parametrize("endpoint", WITH_OBJECTS, ids=str)
def test_objects_of_another_workspace_are_not_found_from_your_own(
    endpoint: Endpoint,
    alpha: Workspace,
    bravo: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    # bravo's Owner holds every capability at home, so only the object scoping can refuse.
    path = _path(endpoint, alpha)
    client = visit(BRAVO_AT_HOME, bravo.host)
    statuses = {}
    for method in METHODS:
        before = db_state(alpha)
        statuses[method] = request(client, method, path).status_code
        assert db_state(alpha) == before
    # 405 refuses a method before any lookup; the method the view serves must say 404.
    assert set(statuses.values()) <= {404, 405}, statuses
    assert 404 in statuses.values(), statuses


# --- the open views -------------------------------------------------------------------------

EVERY_VISITOR = [None, Role.OWNER, Role.READ_ONLY, OUTSIDER, DEACTIVATED_ROLE]


@pytest.mark.parametrize("who", EVERY_VISITOR, ids=lambda who: who or "anonymous")
def test_handover_without_a_token_starts_no_session(
    who: str | None, alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    deactivate(alpha.members[DEACTIVATED_ROLE])
    path = _path(_by_name("handover"), alpha)
    client = visit(who, alpha.host)
    sessions_before = UserSession.objects.count()

    response = client.get(path)
    assert response.status_code == 403
    assert "app/handover_failed.html" in templates(response)
    assert client.post(path).status_code == 405
    assert UserSession.objects.count() == sessions_before


def test_handover_token_of_a_non_member_signs_nobody_in(
    alpha: Workspace, bravo: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    token = handover_token_mint(user=bravo.owner.user, tenant=alpha.tenant)
    client = visit(None, alpha.host)

    response = client.get(f"{_path(_by_name('handover'), alpha)}?{urlencode({'token': token})}")

    assert response.status_code == 403
    assert "app/handover_failed.html" in templates(response)
    assert settings.SESSION_COOKIE_NAME not in client.cookies
    assert client.get("/").status_code == 302


def test_signout_by_a_member_ends_every_session_of_theirs(
    alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    member = alpha.members[Role.READ_ONLY]
    path = _path(_by_name("signout"), alpha)
    client = visit(Role.READ_ONLY, alpha.host)
    other_session = workspace_client(member.user, alpha.tenant)
    someone_else = visit(Role.OWNER, alpha.host)
    assert UserSession.objects.filter(user_id=member.user_id).count() == 2

    assert client.get(path).status_code == 405
    assert UserSession.objects.filter(user_id=member.user_id).count() == 2

    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"] == "http://localhost/"
    assert not UserSession.objects.filter(user_id=member.user_id).exists()
    assert other_session.get("/").status_code == 302
    assert someone_else.get("/").status_code == 200


@pytest.mark.parametrize("method", METHODS)
def test_signout_is_still_guarded_by_membership(
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(_by_name("signout"), alpha)
    anonymous, outsider = (visit(who, alpha.host) for who in (None, OUTSIDER))
    sessions = UserSession.objects.values_list("session_key", flat=True)
    before = set(sessions)
    assert len(before) == 1

    refused = assert_refused_without_effect(anonymous, method, path, 302)
    assert refused["Location"] == _sign_in_url(path, alpha)
    assert_refused_without_effect(outsider, method, path, 404)
    assert set(sessions.all()) == before


def test_a_deactivated_member_can_still_sign_out(
    alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    member = alpha.members[DEACTIVATED_ROLE]
    deactivate(member)
    path = _path(_by_name("signout"), alpha)
    client = visit(DEACTIVATED_ROLE, alpha.host)
    assert UserSession.objects.filter(user_id=member.user_id).exists()

    assert client.get(path).status_code == 405
    response = client.post(path)

    assert response.status_code == 302
    assert response["Location"] == "http://localhost/"
    assert not UserSession.objects.filter(user_id=member.user_id).exists()


# --- the public form views (lead capture) ----------------------------------------------------


@pytest.mark.parametrize("who", EVERY_VISITOR, ids=lambda who: who or "anonymous")
def test_public_form_views_answer_every_visitor_of_this_workspace_alone(
    who: str | None, alpha: Workspace, bravo: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    deactivate(alpha.members[DEACTIVATED_ROLE])
    form = _form(alpha)
    client = visit(who, alpha.host)
    assert client.get(f"/marketing/f/{form.public_id}/").status_code == 200
    assert client.get(f"/marketing/f/{form.public_id}/embed.json").status_code == 200
    assert client.get(f"/marketing/f/{form.public_id}/submit/").status_code == 405
    # The same id on another workspace's host: not found, nothing written there or here.
    other = Client(HTTP_HOST=bravo.host)
    before = db_state(alpha)
    for path in ("", "embed.json"):
        assert other.get(f"/marketing/f/{form.public_id}/{path}").status_code == 404
    with schema_context(alpha.tenant.schema_name):
        token = token_mint(form)
    refused = other.post(
        f"/marketing/f/{form.public_id}/submit/", {"token": token, "email": "a@example.com"}
    )
    assert refused.status_code == 404
    assert db_state(alpha) == before


def test_a_token_of_one_workspace_is_refused_by_another(alpha: Workspace, bravo: Workspace) -> None:
    form = _form(alpha)
    twin = _form(bravo)
    with schema_context(bravo.tenant.schema_name):
        Form.objects.filter(pk=twin.pk).update(public_id=form.public_id)
    with schema_context(alpha.tenant.schema_name):
        token = token_mint(form)
    response = Client(HTTP_HOST=bravo.host).post(
        f"/marketing/f/{form.public_id}/submit/",
        {"token": token, "email": "a@example.com"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    with schema_context(bravo.tenant.schema_name):
        assert not Lead.objects.exists()
