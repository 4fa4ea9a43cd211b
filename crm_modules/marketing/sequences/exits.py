"""Contacts leave a sequence when they reply, meet, become a customer, open a ticket or
unsubscribe. The modules where those happen announce them as record events
(``tenants.modules.record_events``: a timeline entry of a type that declares its event, a
lifecycle change to customer, a withdrawn email consent); ``enrolments_exit_on_events`` is
marketing's listener and ends the contacts' enrolments in the same transaction. Before each
step the runner asks ``exit_reason_now`` as well, so a change made by a path that announces
nothing (a bulk edit, a suppressed address) still ends the enrolment before anything more is
sent."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db.models import QuerySet
from django.utils import timezone

from crm_modules.activities.api import (
    ActivityInput,
    activities_log_many,
    activity_recent_exists,
    entry_types,
)
from crm_modules.marketing.models_sequences import Enrolment
from crm_modules.marketing.module import SEQUENCE_EXIT
from crm_modules.sales.api import LIFECYCLE_EVENT, Contact, LifecycleStage
from tenants.modules import (
    CONTACT_MET,
    CONTACT_OPENED_TICKET,
    CONTACT_REPLIED,
    CONTACT_UNSUBSCRIBED,
    RecordEvent,
)

Reason = Enrolment.ExitReason
State = Enrolment.State
REASON_OF_EVENT = {
    CONTACT_REPLIED: Reason.REPLIED,
    CONTACT_MET: Reason.MEETING,
    CONTACT_OPENED_TICKET: Reason.TICKET,
    CONTACT_UNSUBSCRIBED: Reason.UNSUBSCRIBED,
}


def enrolments_exit(
    enrolments: QuerySet[Enrolment], *, reason: str, at: datetime.datetime | None = None
) -> int:
    """End the running enrolments among ``enrolments`` with ``reason``, each noted on its
    contact's timeline. Returns how many ended."""
    when = at or timezone.now()
    running = list(
        enrolments.filter(state__in=[State.ACTIVE, State.PAUSED])
        .select_for_update(of=("self",))
        .values_list("pk", "contact_id", "sequence__name")
    )
    if not running:
        return 0
    Enrolment.objects.filter(pk__in=[pk for pk, _c, _n in running]).update(
        state=State.EXITED, exit_reason=reason, ended_at=when, due_at=None, lease_until=None
    )
    label = str(Reason(reason).label)
    activities_log_many(
        [
            ActivityInput(
                kind=SEQUENCE_EXIT.code,
                concerns=(("sales.contact", contact_id),),
                occurred_at=when,
                subject=name[:200],
                body=label,
                outcome=reason,
            )
            for _pk, contact_id, name in running
        ]
    )
    return len(running)


def _reason(event: RecordEvent) -> str | None:
    if event.kind == LIFECYCLE_EVENT.code:
        return Reason.CUSTOMER if event.data.get("to") == LifecycleStage.CUSTOMER else None
    return REASON_OF_EVENT.get(event.kind)


def enrolments_exit_on_events(events: Sequence[RecordEvent]) -> int:
    """End the enrolments of the contacts the events are about: one update per reason."""
    contacts: dict[str, set[int]] = {}
    for event in events:
        reason = _reason(event)
        if reason is not None:
            contacts.setdefault(reason, set()).add(event.contact_id)
    return sum(
        enrolments_exit(Enrolment.objects.filter(contact_id__in=sorted(ids)), reason=reason)
        for reason, ids in sorted(contacts.items())
    )


def _kinds(event: str, *, inbound: bool) -> list[str]:
    if inbound:
        return [t.code for t in entry_types() if t.inbound_contact_event == event]
    return [t.code for t in entry_types() if t.contact_event == event]


def exit_reason_now(contact: Contact, *, since: datetime.datetime) -> str:
    """Why the contact should already have left (a reason code), or "": one query."""
    if contact.lifecycle_stage == LifecycleStage.CUSTOMER:
        return Reason.CUSTOMER
    checks = {
        Reason.REPLIED: [
            activity_recent_exists(
                target_type="sales.contact", since=since, kind=kind, direction="inbound"
            )
            for kind in _kinds(CONTACT_REPLIED, inbound=True)
        ],
        Reason.MEETING: [
            activity_recent_exists(target_type="sales.contact", since=since, kind=kind)
            for kind in _kinds(CONTACT_MET, inbound=False)
        ],
        Reason.TICKET: [
            activity_recent_exists(target_type="sales.contact", since=since, kind=kind)
            for kind in _kinds(CONTACT_OPENED_TICKET, inbound=False)
        ],
    }
    annotations = {
        f"{reason}_{n}": condition
        for reason, conditions in checks.items()
        for n, condition in enumerate(conditions)
    }
    if not annotations:
        return ""
    row = Contact.objects.filter(pk=contact.pk).values(**annotations).first() or {}
    for reason in checks:
        if any(row.get(f"{reason}_{n}") for n in range(len(checks[reason]))):
            return reason
    return ""
