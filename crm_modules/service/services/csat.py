"""Customer satisfaction (CSAT): a survey each time a ticket is solved, answered with one click.

- ``csat_survey_open`` runs inside the write that solves a ticket: it notes the survey (agent and
  team of the solution) and queues the email after commit (``tasks.send_csat_survey``). A ticket
  reopened and solved again asks again; the older survey stays answerable.
- ``csat_survey_send`` asks the contact-pressure rule first (marketing's ``may_contact``, a
  transactional message) and writes the contact ledger (``record_contact``) once it went.
- The email holds five links, one per score, each carrying a signed token that names the
  workspace and the survey. Following a link only shows the rating page with that score chosen:
  mail scanners and link previews fetch every link of a message, so a GET never records
  anything. The customer's click on "Send" (a POST, with an optional comment) records it;
  sending again changes the answer (the last one counts).
- A bad rating (``BAD_SCORE`` or less) gives the team lead a follow-up task on the contact,
  through sales' task service, once per survey.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.marketing import api as marketing
from crm_modules.sales import api as sales
from crm_modules.service.models import CsatSurvey, Ticket
from crm_modules.service.module import ASSIGN_TICKETS, CSAT_RATED, ENTRY_CSAT
from crm_modules.service.plan import service_in_plan
from crm_modules.service.services.outbound import customer_language
from crm_platform.errors import ServiceError
from tenants.alarms import alarm_at
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant

TOKEN_SALT = "service.csat"  # noqa: S105 - a signing salt, not a secret
# A survey can be answered (or its answer changed) for this long after it was sent.
ANSWER_DAYS = 30
MAX_COMMENT = 5000
# The sweep's alarm of a workspace with surveys held by the plan (tenants/alarms.py).
CSAT_HELD_ALARM = "service.csat_held"
# Surveys sent per visit once the plan allows them again.
RESUME_BATCH = 200


def _schema() -> str:
    schema: str = connection.schema_name  # type: ignore[attr-defined]
    return schema


def csat_token(survey: CsatSurvey) -> str:
    """The signed token of a survey's links: the workspace schema and the survey id, so a token
    of one workspace means nothing on another workspace's host."""
    return signing.dumps({"w": _schema(), "s": survey.pk}, salt=TOKEN_SALT)


def csat_survey_from_token(token: str) -> CsatSurvey | None:
    """The survey a token names in the current workspace; None for a forged, foreign or
    expired token."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=datetime.timedelta(days=ANSWER_DAYS))
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("w") != _schema():
        return None
    survey_id = data.get("s")
    if not isinstance(survey_id, int):
        return None
    return (
        CsatSurvey.objects.select_related("ticket", "contact", "agent", "team")
        .filter(pk=survey_id)
        .first()
    )


def csat_survey_open(*, ticket: Ticket, now: datetime.datetime) -> CsatSurvey | None:
    """Called in the transaction that solves ``ticket``: note the survey and send it after
    commit. A ticket without a contact asks nobody."""
    if ticket.contact_id is None:
        return None
    survey = CsatSurvey.objects.create(
        ticket=ticket,
        contact_id=ticket.contact_id,
        agent_id=ticket.assignee_id,
        team_id=ticket.team_id,
        created_at=now,
    )
    from crm_modules.service.tasks import send_csat_survey

    survey_id = survey.pk
    transaction.on_commit(lambda: send_csat_survey.delay(survey_id))
    return survey


def send_within() -> datetime.timedelta:
    """How long after the ticket's solution a survey may still be sent (ADR 0081)."""
    return datetime.timedelta(days=settings.SERVICE_CSAT_SEND_WITHIN_DAYS)


def csat_survey_send(
    *, tenant: Tenant, survey_id: int, now: datetime.datetime | None = None
) -> CsatSurvey | None:
    """Email the survey once (in the current workspace schema), if the rule allows it. While
    the plan leaves service out (ADR 0078) it stays pending and the workspace's held-survey
    alarm is set, so it is sent once the plan includes service again — if that is within
    ``send_within()`` of the ticket's solution; later it is marked expired (ADR 0081)."""
    if not service_in_plan(tenant):
        alarm_at(kind=CSAT_HELD_ALARM, at=now or timezone.now())
        return None
    with transaction.atomic():
        survey = (
            CsatSurvey.objects.select_for_update(of=("self",))
            .select_related("ticket", "contact")
            .filter(pk=survey_id)
            .first()
        )
        if survey is None or survey.delivery != CsatSurvey.Delivery.PENDING:
            return survey
        if survey.created_at < (now or timezone.now()) - send_within():
            survey.delivery = CsatSurvey.Delivery.EXPIRED
            survey.save(update_fields=["delivery"])
            return survey
        contact = survey.contact
        if contact is None or not contact.primary_email:
            survey.delivery = CsatSurvey.Delivery.NO_ADDRESS
            survey.save(update_fields=["delivery"])
            return survey
        decision = marketing.may_contact(contact, channel="email", purpose="transactional")
        if not decision.allowed:
            survey.delivery = CsatSurvey.Delivery.HELD
            survey.save(update_fields=["delivery"])
            return survey
        now = timezone.now()
        token = csat_token(survey)
        base = workspace_url(tenant.slug or "", reverse("portal:csat_rate", args=[token]))
        with translation.override(customer_language(contact)):
            subject = _("How did we do? Ticket #%(number)s: %(subject)s") % {
                "number": survey.ticket_id,
                "subject": survey.ticket.subject,
            }
            scores = [
                {"value": value, "label": label, "url": f"{base}?score={value}"}
                for value, label in reversed(CsatSurvey.Score.choices)
            ]
            context = {"survey": survey, "contact": contact, "scores": scores, "workspace": tenant}
            body = render_to_string("service/email/csat.txt", context)
            html = render_to_string("service/email/csat.html", context)
        send_mail(subject, body, None, [contact.primary_email], html_message=html)
        survey.delivery = CsatSurvey.Delivery.SENT
        survey.sent_at = now
        survey.save(update_fields=["delivery", "sent_at"])
        marketing.record_contact(
            contact, channel="email", purpose="transactional", source=f"csat:{survey.pk}", at=now
        )
    return survey


def csat_surveys_resume(*, tenant: Tenant, now: datetime.datetime | None = None) -> bool:
    """In the current workspace schema, once the plan includes service again: send the
    pending surveys solved within ``send_within()``, mark the older ones expired (a batch at a
    time). True when more are pending than one batch took."""
    if not service_in_plan(tenant):
        return False
    when = now or timezone.now()
    CsatSurvey.objects.filter(
        delivery=CsatSurvey.Delivery.PENDING, created_at__lt=when - send_within()
    ).update(delivery=CsatSurvey.Delivery.EXPIRED)
    pending = list(
        CsatSurvey.objects.filter(delivery=CsatSurvey.Delivery.PENDING)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[: RESUME_BATCH + 1]
    )
    for survey_id in pending[:RESUME_BATCH]:
        csat_survey_send(tenant=tenant, survey_id=survey_id, now=when)
    return len(pending) > RESUME_BATCH


def check_score(raw: Any) -> int:
    try:
        score = int(raw)
    except (TypeError, ValueError):
        score = 0
    if score not in CsatSurvey.Score.values or isinstance(raw, bool):
        raise ServiceError(_("Choose a rating from 1 to 5."), field="score")
    return score


def check_comment(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ServiceError(_("Write the comment as text."), field="comment")
    text = raw.replace("\r\n", "\n").replace("\x00", "").strip()
    if len(text) > MAX_COMMENT:
        raise ServiceError(
            _("The comment can be at most %(max)d characters.") % {"max": MAX_COMMENT},
            field="comment",
        )
    return text


def csat_rate(
    *,
    tenant: Tenant,
    survey: CsatSurvey,
    score: Any,
    comment: Any = "",
    now: datetime.datetime | None = None,
) -> CsatSurvey:
    """Record the customer's answer (a second answer replaces the first)."""
    value = check_score(score)
    text = check_comment(comment)
    when = now or timezone.now()
    with transaction.atomic():
        locked = (
            CsatSurvey.objects.select_for_update(of=("self",))
            .select_related("ticket", "contact")
            .get(pk=survey.pk)
        )
        first = locked.score is None
        locked.score = value
        locked.comment = text
        locked.rated_at = when
        fields = ["score", "comment", "rated_at"]
        if locked.is_bad and locked.follow_up_task_id is None:
            task = _follow_up(tenant=tenant, survey=locked, now=when)
            if task is not None:
                locked.follow_up_task_id = task.pk
                fields.append("follow_up_task_id")
        locked.save(update_fields=fields)
        concerns: list[Any] = [r for r in (locked.ticket, locked.contact) if r is not None]
        if locked.ticket.company_id is not None:
            company = sales.Company.objects.filter(pk=locked.ticket.company_id).first()
            if company is not None:
                concerns.append(company)
        if first:
            timeline.activity_log(
                kind=ENTRY_CSAT.code,
                author=None,
                concerns=concerns,
                subject=locked.ticket.subject,
                body=f"{value}/5 {CsatSurvey.Score(value).label}" + (f"\n{text}" if text else ""),
                channel="email",
                direction="inbound",
                occurred_at=when,
                data={"ticket": locked.ticket_id, "survey": locked.pk, "score": value},
            )
        audit_record(
            tenant=tenant,
            actor=None,
            action=CSAT_RATED,
            target=locked.ticket,
            data={"survey": locked.pk, "score": value},
        )
    return locked


def team_lead(*, tenant: Tenant, team_id: int | None) -> Membership | None:
    """Who follows up a bad rating: the first active Manager (else Admin, else Owner) of the
    ticket's team; else the first active Manager, Admin or Owner of the workspace."""
    members = list(
        Membership.objects.filter(
            tenant=tenant, status=Membership.Status.ACTIVE, role__in=list(ASSIGN_TICKETS.roles)
        )
        .select_related("user", "tenant")
        .order_by("pk")
    )
    rank = {"manager": 0, "admin": 1, "owner": 2}
    members.sort(key=lambda m: (rank.get(m.role, 3), m.pk))
    if team_id is not None:
        for member in members:
            if member.team_id == team_id:
                return member
    return members[0] if members else None


def _follow_up(*, tenant: Tenant, survey: CsatSurvey, now: datetime.datetime) -> Any:
    lead = team_lead(tenant=tenant, team_id=survey.team_id)
    if lead is None:
        return None
    lead.tenant = tenant
    with translation.override(lead.user.language or settings.LANGUAGE_CODE):
        title = _("Follow up a bad rating (%(score)d/5) on ticket #%(number)s") % {
            "score": survey.score,
            "number": survey.ticket_id,
        }
    return sales.task_create(
        actor=lead,
        title=title[:200],
        due_at=now + datetime.timedelta(days=1),
        priority=sales.Task.Priority.HIGH,
        contact=survey.contact,
    )
