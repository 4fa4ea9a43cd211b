"""Writes of sequences: create one with its steps, change it, activate it; enrol contacts (one,
a list selection, a segment), pause, resume and remove enrolments. Running the steps is in
``running.py``, exits in ``exits.py``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models import Segment, Suppression
from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep
from crm_modules.marketing.module import (
    ENROL_SEQUENCES,
    MANAGE_SEQUENCES,
    SEQUENCE_CREATED,
    SEQUENCE_ENROLLED,
    SEQUENCE_ENROLMENT_CHANGED,
    SEQUENCE_UPDATED,
)
from crm_modules.marketing.pressure import contact_time_zone
from crm_modules.marketing.quiet_hours import zone
from crm_modules.marketing.selectors import segment_contacts
from crm_modules.marketing.sequences import exits
from crm_modules.marketing.sequences.steps import StepDraft, check_steps, step_due
from crm_modules.sales.api import Consent, Contact, contact_list
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.alarms import alarm_at
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

SWEEP_ALARM = "marketing.sequences"
# How many contacts one enrolment request takes (a list selection, a segment).
MAX_ENROL = 5000
State = Enrolment.State


@dataclass
class EnrolResult:
    enrolled: list[int] = field(default_factory=list)
    # (contact id, why it was refused)
    refused: list[tuple[int, str]] = field(default_factory=list)


def _check_name(name: str) -> str:
    return check_text(name, field="name", max_length=200, label=_("Name"))


def _check_from_name(value: str) -> str:
    value = (value or "").strip()
    if len(value) > 100:
        raise ServiceError(_("At most %(max)d characters.") % {"max": 100}, field="from_name")
    return value


def _store_steps(sequence: Sequence, steps: list[dict[str, object]]) -> None:
    """Steps kept by position (so the run history of a kept step stays), extra ones removed."""
    existing = {step.position: step for step in SequenceStep.objects.filter(sequence=sequence)}
    for values in steps:
        position = int(str(values["position"]))
        step = existing.pop(position, None) or SequenceStep(sequence=sequence)
        for name, value in values.items():
            setattr(step, name, value)
        step.save()
    if existing:
        SequenceStep.objects.filter(pk__in=[step.pk for step in existing.values()]).delete()


def sequence_create(
    *, actor: Membership, name: str, steps: list[StepDraft], from_name: str = ""
) -> Sequence:
    require(actor, MANAGE_SEQUENCES)
    clean_name = _check_name(name)
    clean_from = _check_from_name(from_name)
    clean_steps = check_steps(steps)
    with transaction.atomic():
        sequence = Sequence.objects.create(
            name=clean_name, from_name=clean_from, created_by=actor.user
        )
        _store_steps(sequence, clean_steps)
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SEQUENCE_CREATED, target=sequence
        )
    return sequence


def sequence_update(
    *,
    actor: Membership,
    sequence: Sequence,
    name: str,
    steps: list[StepDraft],
    from_name: str = "",
) -> Sequence:
    require(actor, MANAGE_SEQUENCES, sequence)
    clean_name = _check_name(name)
    clean_from = _check_from_name(from_name)
    clean_steps = check_steps(steps)
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().get(pk=sequence.pk)
        require(actor, MANAGE_SEQUENCES, locked)
        locked.name, locked.from_name = clean_name, clean_from
        locked.updated_at = timezone.now()
        locked.save(update_fields=["name", "from_name", "updated_at"])
        _store_steps(locked, clean_steps)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEQUENCE_UPDATED,
            target=locked,
            data={"steps": len(clean_steps)},
        )
    return locked


def sequence_activate(*, actor: Membership, sequence: Sequence) -> Sequence:
    """A draft starts taking enrolments."""
    require(actor, MANAGE_SEQUENCES, sequence)
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().get(pk=sequence.pk)
        if not SequenceStep.objects.filter(sequence=locked).exists():
            raise ServiceError(_("Add at least one step."), field="steps")
        if locked.status != Sequence.Status.ACTIVE:
            locked.status = Sequence.Status.ACTIVE
            locked.updated_at = timezone.now()
            locked.save(update_fields=["status", "updated_at"])
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=SEQUENCE_UPDATED,
                target=locked,
                data={"status": locked.status},
            )
    return locked


# --- enrolment --------------------------------------------------------------------------------


def first_due(
    sequence: Sequence, contact: Contact, now: datetime.datetime
) -> datetime.datetime | None:
    step = SequenceStep.objects.filter(sequence=sequence).order_by("position").first()
    if step is None:
        return None
    return step_due(
        anchor=now,
        amount=step.delay_amount,
        unit=step.delay_unit,
        zone=zone(contact_time_zone(contact)),
    )


def _refusals(sequence: Sequence, contacts: list[Contact]) -> dict[int, str]:
    """Why each contact that cannot be enrolled cannot, in three queries for the batch."""
    ids = [contact.pk for contact in contacts]
    needs_email = SequenceStep.objects.filter(
        sequence=sequence, kind=SequenceStep.Kind.EMAIL
    ).exists()
    already = set(
        Enrolment.objects.filter(
            sequence=sequence, contact_id__in=ids, state__in=[State.ACTIVE, State.PAUSED]
        ).values_list("contact_id", flat=True)
    )
    withdrawn = set(
        Consent.objects.filter(
            contact_id__in=ids, channel="email", status=Consent.Status.WITHDRAWN
        ).values_list("contact_id", flat=True)
    )
    addresses = {c.primary_email.strip().lower(): c.pk for c in contacts if c.primary_email}
    suppressed = {
        addresses[address]
        for address in Suppression.objects.filter(
            channel="email", address__in=list(addresses)
        ).values_list("address", flat=True)
    }
    refused: dict[int, str] = {}
    for contact in contacts:
        if contact.pk in already:
            refused[contact.pk] = _("%(name)s is already in this sequence.") % {"name": contact}
        elif needs_email and contact.pk in withdrawn:
            refused[contact.pk] = _("%(name)s unsubscribed from email.") % {"name": contact}
        elif needs_email and contact.pk in suppressed:
            refused[contact.pk] = _("%(name)s's address is on the suppression list.") % {
                "name": contact
            }
        elif needs_email and not contact.primary_email:
            refused[contact.pk] = _("%(name)s has no email address.") % {"name": contact}
    return refused


def _enrol(
    *, actor: Membership, sequence: Sequence, contacts: list[Contact], now: datetime.datetime
) -> EnrolResult:
    result = EnrolResult()
    if sequence.status != Sequence.Status.ACTIVE:
        raise ServiceError(_("Activate the sequence before enrolling contacts."), field="sequence")
    refused = _refusals(sequence, contacts)
    earliest: datetime.datetime | None = None
    for contact in contacts:
        if contact.pk in refused:
            result.refused.append((contact.pk, refused[contact.pk]))
            continue
        due = first_due(sequence, contact, now)
        try:
            # Two members enrolling the same contact at once: the constraint keeps one.
            with transaction.atomic():
                Enrolment.objects.create(
                    sequence=sequence,
                    contact=contact,
                    due_at=due,
                    anchor_at=now,
                    enrolled_by=actor.user,
                    enrolled_at=now,
                )
        except IntegrityError:
            result.refused.append(
                (contact.pk, _("%(name)s is already in this sequence.") % {"name": contact})
            )
            continue
        result.enrolled.append(contact.pk)
        if due is not None and (earliest is None or due < earliest):
            earliest = due
    if result.enrolled:
        alarm_at(kind=SWEEP_ALARM, at=earliest)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEQUENCE_ENROLLED,
            target=sequence,
            data={"contacts": len(result.enrolled), "refused": len(result.refused)},
        )
    return result


def enrol_contact(
    *,
    actor: Membership,
    sequence: Sequence,
    contact_id: object,
    now: datetime.datetime | None = None,
) -> Enrolment:
    """Enrol one contact the actor may see; a refusal is an error that says why."""
    require(actor, ENROL_SEQUENCES)
    contact = _visible_contacts(actor, [contact_id]).first()
    if contact is None:
        raise ServiceError(_("Choose a contact you can see."), field="contact")
    with transaction.atomic():
        result = _enrol(
            actor=actor, sequence=sequence, contacts=[contact], now=now or timezone.now()
        )
        if result.refused:
            raise ServiceError(result.refused[0][1], field="contact", code="refused")
        return Enrolment.objects.get(
            sequence=sequence, contact=contact, state__in=[State.ACTIVE, State.PAUSED]
        )


def _visible_contacts(actor: Membership, ids: Iterable[object]) -> QuerySet[Contact]:
    clean: list[int] = []
    for raw in ids:
        try:
            clean.append(int(str(raw)))
        except (TypeError, ValueError):
            raise ServiceError(_("Choose contacts from the list."), field="contacts") from None
    return contact_list(actor=actor).filter(pk__in=clean).order_by("pk")


def enrol_contacts(
    *,
    actor: Membership,
    sequence: Sequence,
    contact_ids: list[object],
    now: datetime.datetime | None = None,
) -> EnrolResult:
    """Enrol a list selection; contacts the actor cannot see are refused like unknown ones."""
    require(actor, ENROL_SEQUENCES)
    if not contact_ids:
        raise ServiceError(_("Choose at least one contact."), field="contacts")
    if len(contact_ids) > MAX_ENROL:
        raise ServiceError(
            _("Enrol at most %(max)d contacts at once.") % {"max": MAX_ENROL}, field="contacts"
        )
    contacts = list(_visible_contacts(actor, contact_ids))
    with transaction.atomic():
        result = _enrol(
            actor=actor, sequence=sequence, contacts=contacts, now=now or timezone.now()
        )
    found = {contact.pk for contact in contacts}
    for raw in contact_ids:
        if int(str(raw)) not in found:
            result.refused.append((int(str(raw)), _("No such contact.")))
    return result


def enrol_segment(
    *,
    actor: Membership,
    sequence: Sequence,
    segment: Segment,
    now: datetime.datetime | None = None,
) -> EnrolResult:
    """Enrol the segment's contacts as the actor sees them now (a snapshot)."""
    require(actor, ENROL_SEQUENCES)
    contacts = list(segment_contacts(actor=actor, segment=segment).order_by("pk")[: MAX_ENROL + 1])
    if len(contacts) > MAX_ENROL:
        raise ServiceError(
            _("The segment has more than %(max)d contacts: enrol a smaller one.")
            % {"max": MAX_ENROL},
            field="segment",
        )
    with transaction.atomic():
        return _enrol(actor=actor, sequence=sequence, contacts=contacts, now=now or timezone.now())


def _locked_enrolment(actor: Membership, enrolment: Enrolment) -> Enrolment:
    require(actor, ENROL_SEQUENCES)
    locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if not contact_list(actor=actor).filter(pk=locked.contact_id).exists():
        raise ServiceError(_("Choose a contact you can see."), field="contact")
    return locked


def enrolment_pause(*, actor: Membership, enrolment: Enrolment) -> Enrolment:
    with transaction.atomic():
        locked = _locked_enrolment(actor, enrolment)
        if locked.state == State.PAUSED:
            return locked
        if locked.state != State.ACTIVE:
            raise ServiceError(_("This enrolment has already ended."), field="state")
        locked.state = State.PAUSED
        locked.lease_until = None
        locked.save(update_fields=["state", "lease_until"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEQUENCE_ENROLMENT_CHANGED,
            target=locked,
            data={"state": locked.state},
        )
    return locked


def enrolment_resume(
    *, actor: Membership, enrolment: Enrolment, now: datetime.datetime | None = None
) -> Enrolment:
    """The next step goes no earlier than it would have, and not before now."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_enrolment(actor, enrolment)
        if locked.state == State.ACTIVE:
            return locked
        if locked.state != State.PAUSED:
            raise ServiceError(_("This enrolment has already ended."), field="state")
        locked.state = State.ACTIVE
        locked.due_at = max(locked.due_at or now, now)
        locked.save(update_fields=["state", "due_at"])
        alarm_at(kind=SWEEP_ALARM, at=locked.due_at)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEQUENCE_ENROLMENT_CHANGED,
            target=locked,
            data={"state": locked.state},
        )
    return locked


def enrolment_remove(*, actor: Membership, enrolment: Enrolment) -> Enrolment:
    with transaction.atomic():
        locked = _locked_enrolment(actor, enrolment)
        if locked.state not in (State.ACTIVE, State.PAUSED):
            raise ServiceError(_("This enrolment has already ended."), field="state")
        exits.enrolments_exit(
            Enrolment.objects.filter(pk=locked.pk), reason=Enrolment.ExitReason.REMOVED
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEQUENCE_ENROLMENT_CHANGED,
            target=locked,
            data={"state": State.EXITED},
        )
        locked.refresh_from_db()
    return locked


__all__ = [
    "EnrolResult",
    "StepDraft",
    "enrol_contact",
    "enrol_contacts",
    "enrol_segment",
    "enrolment_pause",
    "enrolment_remove",
    "enrolment_resume",
    "sequence_activate",
    "sequence_create",
    "sequence_update",
]
