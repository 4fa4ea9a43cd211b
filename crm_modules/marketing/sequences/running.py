"""Running the due steps of sequences, exactly once per enrolment and step (ADR 0041).

The sweep claims due enrolments with ``SELECT … FOR UPDATE SKIP LOCKED`` through the partial
index on ``due_at`` of active enrolments (cheap at a million enrolments: it reads only the due
ones) and leases them, so two sweeps never take the same enrolment. Each step then runs under
the enrolment's row lock: exits are checked again, the step's condition is asked, and a
``StepRun`` row — unique per (enrolment, step) — is committed *before* the email goes or
together with the task it creates. A step whose run row exists never runs again; a run left in
'sending' by a killed worker is marked failed rather than sent twice.

Every email asks the contact-pressure rule (``may_contact``) first and writes its ledger
(``record_contact``) after: a cap or quiet hours defer the step to the moment the rule gives;
withdrawn consent or a suppressed address ends the enrolment.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm_modules.activities.api import ActivityInput, activities_log_many
from crm_modules.marketing.campaigns import content
from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep, StepRun
from crm_modules.marketing.module import SEQUENCE_EMAIL
from crm_modules.marketing.pressure import (
    Purpose,
    contact_time_zone,
    current_workspace,
    may_contact,
    record_contact,
)
from crm_modules.marketing.quiet_hours import zone
from crm_modules.marketing.sequences import exits, tracking
from crm_modules.marketing.sequences.steps import step_due
from crm_modules.sales.api import WORK_TASKS, Contact, task_create
from crm_platform.errors import ServiceError
from tenants.hosts import workspace_url
from tenants.models import Membership
from tenants.permissions import allows

logger = logging.getLogger(__name__)

State = Enrolment.State
Reason = Enrolment.ExitReason
LEASE = datetime.timedelta(minutes=5)
RETRY = datetime.timedelta(minutes=10)
# A hold (an open ticket) that gives no time: look again after this.
HOLD_RETRY = datetime.timedelta(hours=6)
# What the rule says when the contact must never get marketing at this address again.
STOPPING = {"suppressed", "no_consent"}
_TABLE = Enrolment._meta.db_table


def claim(*, now: datetime.datetime, limit: int) -> list[int]:
    """Lease up to ``limit`` due active enrolments to this sweep alone (committed at once)."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The table name is the model's own, never input.
        cursor.execute(
            f"UPDATE {_TABLE} SET lease_until = %s"  # noqa: S608
            f" WHERE id IN (SELECT id FROM {_TABLE} WHERE state = %s AND due_at <= %s"
            " AND (lease_until IS NULL OR lease_until < %s)"
            " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [now + LEASE, State.ACTIVE, now, now, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def next_due() -> datetime.datetime | None:
    """When the sweep is next needed in this workspace."""
    return (
        Enrolment.objects.filter(state=State.ACTIVE, due_at__isnull=False)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def _advance(enrolment: Enrolment, *, at: datetime.datetime) -> None:
    """Move to the next step, due its delay after ``at``; past the last step, finish."""
    step = (
        SequenceStep.objects.filter(
            sequence_id=enrolment.sequence_id, position__gt=enrolment.next_position
        )
        .order_by("position")
        .first()
    )
    enrolment.lease_until = None
    enrolment.anchor_at = at
    if step is None:
        enrolment.state = State.FINISHED
        enrolment.ended_at = at
        enrolment.due_at = None
    else:
        enrolment.next_position = step.position
        contact = Contact.objects.filter(pk=enrolment.contact_id).first()
        tz = zone(contact_time_zone(contact)) if contact is not None else datetime.UTC
        enrolment.due_at = step_due(
            anchor=at, amount=step.delay_amount, unit=step.delay_unit, zone=tz
        )
    enrolment.save(
        update_fields=["state", "ended_at", "due_at", "next_position", "anchor_at", "lease_until"]
    )


def _release(enrolment: Enrolment, *, due_at: datetime.datetime | None = None) -> None:
    Enrolment.objects.filter(pk=enrolment.pk).update(
        lease_until=None, **({"due_at": due_at} if due_at is not None else {})
    )


def _condition_met(enrolment: Enrolment, step: SequenceStep, contact: Contact) -> bool:
    if step.condition == SequenceStep.Condition.LIFECYCLE_IS:
        return bool(contact.lifecycle_stage == step.condition_value)
    if step.condition in (SequenceStep.Condition.NOT_OPENED, SequenceStep.Condition.NOT_CLICKED):
        previous = (
            StepRun.objects.filter(
                enrolment=enrolment,
                step__kind=SequenceStep.Kind.EMAIL,
                step__position__lt=step.position,
                status=StepRun.Status.SENT,
            )
            .order_by("-step__position")
            .first()
        )
        if previous is None:
            # The earlier email was never sent (skipped, deferred past, failed): nothing was
            # opened or clicked.
            return True
        if step.condition == SequenceStep.Condition.NOT_OPENED:
            return previous.opened_at is None
        return previous.clicked_at is None
    return True


def _owner_actor(enrolment: Enrolment, contact: Contact) -> Membership | None:
    """Who a task step's task goes to: the contact's owner; for a contact without one (or an
    owner who left or may not work tasks), the member who enrolled the contact, then the
    sequence's creator — the first who is an active member allowed to work tasks. The task is
    created in that member's name, so no right to assign tasks to others is needed. None: the
    step is skipped (``no_owner``)."""
    tenant = current_workspace()
    candidates = [
        user_id
        for user_id in (
            contact.owner_id,
            enrolment.enrolled_by_id,
            enrolment.sequence.created_by_id,
        )
        if user_id is not None
    ]
    members = {
        member.user_id: member
        for member in Membership.objects.select_related("user").filter(
            tenant=tenant, user_id__in=candidates, status=Membership.Status.ACTIVE
        )
    }
    for user_id in candidates:
        member = members.get(user_id)
        if member is None:
            continue
        member.tenant = tenant
        if allows(member, WORK_TASKS):
            return member
    return None


def step_run(enrolment_id: int, *, now: datetime.datetime) -> str:
    """Run the due step of one claimed enrolment. Returns what happened (for tests and logs):
    "sent", "task", "skipped", "deferred", "exited:<reason>", "finished", "" (nothing)."""
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update()
            .filter(pk=enrolment_id, state=State.ACTIVE)
            .first()
        )
        if enrolment is None:
            return ""
        if enrolment.due_at is None or enrolment.due_at > now:
            _release(enrolment)
            return ""
        contact = Contact.objects.select_related("company").filter(pk=enrolment.contact_id).first()
        step = SequenceStep.objects.filter(
            sequence_id=enrolment.sequence_id, position=enrolment.next_position
        ).first()
        if contact is None:
            Enrolment.objects.filter(pk=enrolment.pk).update(
                state=State.FINISHED, ended_at=now, due_at=None, lease_until=None
            )
            return "finished"
        if step is None:
            # The step was removed from the sequence: on to the one after it, or the end.
            _advance(enrolment, at=now)
            return "finished" if enrolment.state == State.FINISHED else ""
        reason = exits.exit_reason_now(contact, since=enrolment.enrolled_at)
        if reason:
            exits.enrolments_exit(Enrolment.objects.filter(pk=enrolment.pk), reason=reason, at=now)
            return f"exited:{reason}"
        earlier = StepRun.objects.filter(enrolment=enrolment, step=step).first()
        if earlier is not None:
            # Claimed before by a worker that died mid-send: never send it a second time.
            if earlier.status == StepRun.Status.SENDING:
                StepRun.objects.filter(pk=earlier.pk).update(
                    status=StepRun.Status.FAILED, reason="interrupted"
                )
            _advance(enrolment, at=now)
            return "skipped"
        if not _condition_met(enrolment, step, contact):
            StepRun.objects.create(
                enrolment=enrolment, step=step, status=StepRun.Status.SKIPPED, reason="condition"
            )
            _advance(enrolment, at=now)
            return "skipped"
        if step.kind == SequenceStep.Kind.TASK:
            return _run_task(enrolment, step, contact, now=now)
    # An email: decided and claimed again under a fresh lock, sent after that commits.
    return _run_email(enrolment_id, now=now)


def _email_claim(
    enrolment_id: int, *, now: datetime.datetime
) -> tuple[str, tuple[Enrolment, SequenceStep, Contact, StepRun] | None]:
    """Ask the contact-pressure rule and, if it allows, commit the step's run row."""
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update()
            .filter(pk=enrolment_id, state=State.ACTIVE)
            .first()
        )
        if enrolment is None:
            return "", None
        step = SequenceStep.objects.get(
            sequence_id=enrolment.sequence_id, position=enrolment.next_position
        )
        contact = Contact.objects.select_related("company").get(pk=enrolment.contact_id)
        if StepRun.objects.filter(enrolment=enrolment, step=step).exists():
            return "", None
        if not contact.primary_email:
            exits.enrolments_exit(
                Enrolment.objects.filter(pk=enrolment.pk), reason=Reason.NO_EMAIL, at=now
            )
            return f"exited:{Reason.NO_EMAIL}", None
        decision = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=now)
        if not decision.allowed:
            if decision.reason in STOPPING:
                exits.enrolments_exit(
                    Enrolment.objects.filter(pk=enrolment.pk), reason=Reason.UNSUBSCRIBED, at=now
                )
                return f"exited:{Reason.UNSUBSCRIBED}", None
            if decision.not_before is not None:
                # The cap or quiet hours: the step waits, it is not dropped.
                _release(enrolment, due_at=decision.not_before)
                return "deferred", None
            if decision.reason == "held":
                _release(enrolment, due_at=now + HOLD_RETRY)
                return "deferred", None
            StepRun.objects.create(
                enrolment=enrolment,
                step=step,
                status=StepRun.Status.SKIPPED,
                reason=decision.reason,
            )
            _advance(enrolment, at=now)
            return "skipped", None
        run = StepRun.objects.create(
            enrolment=enrolment, step=step, status=StepRun.Status.SENDING, at=now
        )
    return "", (enrolment, step, contact, run)


def _run_email(enrolment_id: int, *, now: datetime.datetime) -> str:
    """Claim, then send: the run row is committed before the message goes, so whatever
    happens after, this step is not sent again."""
    outcome, claimed = _email_claim(enrolment_id, now=now)
    if claimed is None:
        return outcome
    enrolment, step, contact, run = claimed
    return _send(enrolment, step, contact, run, now=now)


def _run_task(
    enrolment: Enrolment, step: SequenceStep, contact: Contact, *, now: datetime.datetime
) -> str:
    """Inside the step's transaction: the task and its run row commit together."""
    actor = _owner_actor(enrolment, contact)
    status, reason = StepRun.Status.TASK, ""
    if actor is None:
        status, reason = StepRun.Status.SKIPPED, "no_owner"
    else:
        try:
            with transaction.atomic():
                task_create(
                    actor=actor,
                    title=step.task_title,
                    contact=contact,
                    due_at=now,
                )
        except ServiceError as exc:
            status, reason = StepRun.Status.SKIPPED, exc.code[:40]
    StepRun.objects.create(enrolment=enrolment, step=step, status=status, reason=reason, at=now)
    _advance(enrolment, at=now)
    return "task" if status == StepRun.Status.TASK else "skipped"


def _from_address(sequence: Sequence) -> str:
    default = str(settings.DEFAULT_FROM_EMAIL)
    if not sequence.from_name:
        return default
    address = default.rsplit("<", 1)[-1].rstrip(">").strip()
    return f"{sequence.from_name} <{address}>"


def message_id(schema_name: str, run_id: int) -> str:
    domain = settings.MARKETING_MESSAGE_ID_DOMAIN or settings.BASE_DOMAIN
    return f"<sequence.{schema_name}.{run_id}@{domain}>"


def _tracking_urls(run_id: int) -> tuple[str, Callable[[int], str]]:
    tenant = current_workspace()
    schema = tenant.schema_name
    open_path = reverse("marketing:sequence_open", args=["T"]).removesuffix("T/")
    click_path = reverse("marketing:sequence_click", args=["T"]).removesuffix("T/")
    open_url = (
        workspace_url(str(tenant.slug), open_path) + tracking.open_token(schema, run_id) + "/"
    )
    click_base = workspace_url(str(tenant.slug), click_path)

    def click(index: int) -> str:
        return f"{click_base}{tracking.click_token(schema, run_id, index)}/"

    return open_url, click


def _send(
    enrolment: Enrolment,
    step: SequenceStep,
    contact: Contact,
    run: StepRun,
    *,
    now: datetime.datetime,
) -> str:
    # Asked again just before the message goes: an address suppressed since the claim stops it.
    if not may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=now).allowed:
        with transaction.atomic():
            StepRun.objects.filter(pk=run.pk).delete()
            _release(enrolment, due_at=now + RETRY)
        return "deferred"
    sequence = Sequence.objects.get(pk=enrolment.sequence_id)
    built = content.build(
        subject=step.subject, preheader="", mode="html", blocks=[], html=step.body
    )
    open_url, click = _tracking_urls(run.pk)
    rendered = content.render(
        built, content.contact_values(contact), link_url=click, open_url=open_url
    )
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=_from_address(sequence),
        to=[contact.primary_email],
        headers={"Message-ID": message_id(connection.schema_name, run.pk)},  # type: ignore[attr-defined]
    )
    message.attach_alternative(rendered.html, "text/html")
    smtp = get_connection(settings.MARKETING_EMAIL_BACKEND or settings.EMAIL_DELIVERY_BACKEND)
    try:
        smtp.send_messages([message])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
        logger.info("sequence step run %s refused: %s", run.pk, exc)
        with transaction.atomic():
            StepRun.objects.filter(pk=run.pk).update(status=StepRun.Status.FAILED, reason="refused")
            locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
            _advance(locked, at=now)
        return "failed"
    except Exception:
        # Not accepted (the server or the connection failed): try this step again later.
        with transaction.atomic():
            StepRun.objects.filter(pk=run.pk).delete()
            _release(enrolment, due_at=now + RETRY)
        raise
    accepted = timezone.now()
    with transaction.atomic():
        StepRun.objects.filter(pk=run.pk).update(status=StepRun.Status.SENT, at=accepted)
        record_contact(
            contact,
            channel="email",
            purpose=Purpose.MARKETING,
            source=f"sequence:{sequence.pk}",
            at=accepted,
        )
        activities_log_many(
            [
                ActivityInput(
                    kind=SEQUENCE_EMAIL.code,
                    concerns=(("sales.contact", contact.pk),),
                    occurred_at=accepted,
                    subject=rendered.subject[:200],
                    body=sequence.name[:200],
                    channel="email",
                    direction="outbound",
                    outcome=StepRun.Status.SENT,
                )
            ]
        )
        locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        _advance(locked, at=now)
    return "sent"


def sequences_run_due(*, now: datetime.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """One sweep of this workspace: claim what is due and run it. Returns counts by outcome."""
    now = now or timezone.now()
    outcomes: dict[str, int] = {}
    for enrolment_id in claim(now=now, limit=limit):
        try:
            outcome = step_run(enrolment_id, now=now)
        except Exception:
            logger.exception("sequence enrolment %s failed", enrolment_id)
            outcome = "error"
        key = outcome.split(":")[0] or "nothing"
        outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes
