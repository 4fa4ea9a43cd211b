"""Reads of sequences, narrowed to what the acting member may see: the list with its figures
(one grouped query over the enrolments' (sequence, state) index), one sequence, its enrolments
(keyset pages, only contacts the member may see) and a contact's sequences."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep
from crm_modules.marketing.module import ENROL_SEQUENCES, VIEW_SEQUENCES
from crm_modules.sales.api import Contact, Page, contact_list, keyset_page
from tenants.models import Membership
from tenants.permissions import allows

PAGE_SIZE = 50
State = Enrolment.State


def sequence_list(*, actor: Membership) -> QuerySet[Sequence]:
    if not allows(actor, VIEW_SEQUENCES):
        return Sequence.objects.none()
    return Sequence.objects.order_by("-created_at", "-id")


def sequence_get(*, actor: Membership, sequence_id: Any) -> Sequence:
    try:
        pk = int(sequence_id)
    except (TypeError, ValueError):
        raise Http404 from None
    sequence = sequence_list(actor=actor).filter(pk=pk).first()
    if sequence is None:
        raise Http404
    return sequence


def sequence_steps(sequence: Sequence) -> list[SequenceStep]:
    return list(SequenceStep.objects.filter(sequence=sequence).order_by("position"))


def sequence_stats(sequence_ids: list[int]) -> dict[int, dict[str, int]]:
    """Enrolled (ever), active, replied and exited per sequence: one grouped query."""
    rows = (
        Enrolment.objects.filter(sequence_id__in=sequence_ids)
        .values("sequence_id")
        .annotate(
            enrolled=Count("id"),
            active=Count("id", filter=Q(state__in=[State.ACTIVE, State.PAUSED])),
            replied=Count(
                "id", filter=Q(state=State.EXITED, exit_reason=Enrolment.ExitReason.REPLIED)
            ),
            exited=Count("id", filter=Q(state=State.EXITED)),
            finished=Count("id", filter=Q(state=State.FINISHED)),
        )
    )
    empty = {"enrolled": 0, "active": 0, "replied": 0, "exited": 0, "finished": 0}
    stats = {pk: dict(empty) for pk in sequence_ids}
    for row in rows:
        stats[int(row["sequence_id"])] = {
            "enrolled": int(row["enrolled"]),
            "active": int(row["active"]),
            "replied": int(row["replied"]),
            "exited": int(row["exited"]),
            "finished": int(row["finished"]),
        }
    return stats


def enrolment_list(
    *, actor: Membership, sequence: Sequence, state: str = ""
) -> QuerySet[Enrolment]:
    visible = contact_list(actor=actor).filter(pk=OuterRef("contact_id"))
    enrolments = Enrolment.objects.filter(sequence=sequence).filter(Exists(visible))
    if state in State.values:
        enrolments = enrolments.filter(state=state)
    return enrolments.select_related("contact")


def enrolment_page(
    *,
    actor: Membership,
    sequence: Sequence,
    state: str = "",
    after: str = "",
    size: int = PAGE_SIZE,
) -> Page[Enrolment]:
    return keyset_page(
        enrolment_list(actor=actor, sequence=sequence, state=state),
        order=("-id",),
        after=after,
        size=size,
    )


def enrolment_get(*, actor: Membership, sequence: Sequence, enrolment_id: Any) -> Enrolment:
    try:
        pk = int(enrolment_id)
    except (TypeError, ValueError):
        raise Http404 from None
    found = enrolment_list(actor=actor, sequence=sequence).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def contact_enrolments(*, actor: Membership, contact: Contact) -> list[Enrolment]:
    if not allows(actor, VIEW_SEQUENCES):
        return []
    return list(
        Enrolment.objects.filter(contact=contact).select_related("sequence").order_by("-id")[:20]
    )


def contact_sequences_panel(*, actor: Membership, contact: Contact) -> dict[str, Any]:
    """The contact page's panel: the contact's enrolments and, for those who may enrol, the
    active sequences to enrol the contact in."""
    may_enrol = allows(actor, ENROL_SEQUENCES)
    return {
        "contact": contact,
        "enrolments": contact_enrolments(actor=actor, contact=contact),
        "may_enrol": may_enrol,
        "sequences": list(
            Sequence.objects.filter(status=Sequence.Status.ACTIVE).order_by("name")[:100]
        )
        if may_enrol
        else [],
    }
