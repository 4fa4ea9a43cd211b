"""The contact-pressure rule: the one question every sending path asks before it reaches a
contact, and the one ledger every sending path writes after it did (ADR 0033).

Every module that emails, texts or calls a contact (campaigns, sequences, service replies,
sales emails, later automation) asks ``may_contact`` first and calls ``record_contact`` once the
message has gone. Modules that know reasons to hold marketing back (an open ticket, a poor
CSAT) join through ``tenants.modules.register_contact_hold`` rather than being imported here,
so marketing never imports them.

Order of the checks for marketing: a suppressed address, withdrawn consent, the contact's
preferred channel, a topic the contact opted out of, a hold, the rolling cap, quiet hours.
Transactional and one-to-one messages are counted by the cap but never held back by it, nor by
quiet hours, consent or holds; only a hard-bounced address stops them (nothing can arrive).

Concurrency: the cap is a count, so two senders deciding at the same moment could both see
the last free slot. ``may_contact`` and ``record_contact`` take a transaction-scoped advisory
lock on the contact; a sender that asks, sends and records inside one ``transaction.atomic()``
holds the contact until it commits, and the next sender counts its message.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_modules.marketing.models import (
    ContactTouch,
    PressureSettings,
    Suppression,
    Topic,
    TopicOptOut,
)
from crm_modules.marketing.quiet_hours import quiet_until, zone
from crm_modules.sales.api import Consent, Contact
from crm_platform.errors import ServiceError
from tenants.models import Tenant
from tenants.modules import contact_holds_many

CHANNELS = ("email", "sms", "phone")
MAX_SOURCE = 100


class Purpose(models.TextChoices):
    """Why a message goes out; the rule treats each differently."""

    MARKETING = "marketing", gettext_lazy("Marketing")
    # Receipts, password links, invoices: always allowed, never capped, but counted.
    TRANSACTIONAL = "transactional", gettext_lazy("Transactional")
    # A person writing to one contact (a sales email, a service reply): counted, not capped.
    ONE_TO_ONE = "one_to_one", gettext_lazy("One-to-one")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # A stable code ("ok", "no_consent", ...) and a sentence for people.
    reason: str
    message: str = ""
    # When holding back only for now (quiet hours, a cap window), the earliest allowed moment.
    not_before: datetime.datetime | None = None


def pressure_settings() -> PressureSettings:
    found = PressureSettings.objects.filter(pk=1).first()
    if found is None:
        found, _created = PressureSettings.objects.get_or_create(pk=1)
    return found


def contact_address(contact: Contact, channel: str) -> str:
    if channel == "email":
        return contact.primary_email.strip().lower()
    return contact.primary_phone.strip()


def current_workspace() -> Tenant:
    """The workspace whose schema is in use (a request's tenant, or looked up by schema
    inside ``schema_context``, which only knows the schema's name)."""
    tenant = connection.tenant  # type: ignore[attr-defined]
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)  # type: ignore[attr-defined]


def contact_time_zone(contact: Contact) -> str:
    """The contact's own time zone, else the workspace's."""
    return zone(contact.time_zone, current_workspace().time_zone).key


def _check(channel: str, purpose: str) -> None:
    if channel not in CHANNELS:
        raise ServiceError(
            _("Unknown channel %(channel)s.") % {"channel": channel}, field="channel"
        )
    if purpose not in Purpose.values:
        raise ServiceError(
            _("Unknown purpose %(purpose)s.") % {"purpose": purpose}, field="purpose"
        )


def _lock(contact_id: int) -> None:
    """Serialise the decisions and records of one contact until the transaction ends (a no-op
    outside a transaction, where there is nothing to hold)."""
    if not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"{connection.schema_name}:contact-pressure:{contact_id}"],  # type: ignore[attr-defined]
        )


def cap_state(
    contact: Contact, *, channel: str, at: datetime.datetime, rules: PressureSettings
) -> tuple[int, datetime.datetime | None]:
    """How many messages count toward the cap at ``at``, and when the window frees a slot if
    the cap is reached (None when it is not)."""
    window = datetime.timedelta(days=rules.cap_days)
    touches = ContactTouch.objects.filter(contact_id=contact.pk, at__gt=at - window, at__lte=at)
    if rules.cap_scope == PressureSettings.Scope.CHANNEL:
        touches = touches.filter(channel=channel)
    count = touches.count()
    if rules.cap_messages == 0 or count < rules.cap_messages:
        return count, None
    # The window frees a slot when enough of its oldest messages have left it.
    oldest = touches.order_by("at").values_list("at", flat=True)[count - rules.cap_messages]
    return count, oldest + window


@dataclass(frozen=True)
class _Facts:
    """What the rule reads about a set of contacts, in a fixed number of queries."""

    rules: PressureSettings
    zone: str
    # address -> Suppression.Reason
    suppressed: dict[str, str]
    withdrawn: frozenset[int] = frozenset()
    opted_out: frozenset[int] = frozenset()
    held: dict[int, str] = field(default_factory=dict)
    # Messages in the cap window, per contact (absent: none).
    counted: dict[int, int] = field(default_factory=dict)


def _facts(
    contacts: Sequence[Contact],
    *,
    channel: str,
    purpose: str,
    at: datetime.datetime,
    topic: str | None,
) -> _Facts:
    rules = pressure_settings()
    workspace_zone = current_workspace().time_zone
    addresses = {contact_address(c, channel) for c in contacts} - {""}
    suppressed = dict(
        Suppression.objects.filter(channel=channel, address__in=addresses).values_list(
            "address", "reason"
        )
        if addresses
        else []
    )
    if purpose != Purpose.MARKETING:
        return _Facts(rules, workspace_zone, suppressed)
    ids = [c.pk for c in contacts]
    withdrawn = frozenset(
        Consent.objects.filter(
            contact_id__in=ids, channel=channel, status=Consent.Status.WITHDRAWN
        ).values_list("contact_id", flat=True)
    )
    opted_out: frozenset[int] = frozenset()
    if topic is not None:
        if not Topic.objects.filter(key=topic).exists():
            raise ServiceError(_("Unknown topic %(topic)s.") % {"topic": topic}, field="topic")
        opted_out = frozenset(
            TopicOptOut.objects.filter(contact_id__in=ids, topic__key=topic).values_list(
                "contact_id", flat=True
            )
        )
    held: dict[int, str] = {}
    for _key, many in contact_holds_many():
        for contact_id, why in many(contacts).items():
            held.setdefault(contact_id, why)
    touches = ContactTouch.objects.filter(
        contact_id__in=ids, at__gt=at - datetime.timedelta(days=rules.cap_days), at__lte=at
    )
    if rules.cap_scope == PressureSettings.Scope.CHANNEL:
        touches = touches.filter(channel=channel)
    counted = dict(
        touches.values("contact_id")
        .annotate(n=models.Count("id"))
        .values_list("contact_id", "n")
        .order_by()
    )
    return _Facts(rules, workspace_zone, suppressed, withdrawn, opted_out, held, counted)


def _decide(
    contact: Contact, facts: _Facts, *, channel: str, purpose: str, at: datetime.datetime
) -> Decision:
    """The rule's answer for one contact from what ``_facts`` read (see the module's order)."""
    address = contact_address(contact, channel)
    suppressed = facts.suppressed.get(address) if address else None
    if suppressed == Suppression.Reason.HARD_BOUNCE:
        return Decision(False, "suppressed", _("The address bounced: nothing can arrive there."))
    if purpose != Purpose.MARKETING:
        return Decision(True, "ok")
    if suppressed is not None:
        return Decision(False, "suppressed", _("The address is on the suppression list."))
    if contact.pk in facts.withdrawn:
        return Decision(False, "no_consent", _("The contact withdrew consent."))
    if contact.preferred_channel and contact.preferred_channel != channel:
        return Decision(
            False,
            "not_preferred_channel",
            _("The contact prefers to be reached by %(channel)s.")
            % {"channel": contact.get_preferred_channel_display()},
        )
    if contact.pk in facts.opted_out:
        return Decision(False, "topic_opt_out", _("The contact opted out of this topic."))
    if contact.pk in facts.held:
        return Decision(False, "held", facts.held[contact.pk])
    rules = facts.rules
    if rules.cap_messages and facts.counted.get(contact.pk, 0) >= rules.cap_messages:
        _count, frees_at = cap_state(contact, channel=channel, at=at, rules=rules)
        if frees_at is not None:
            return Decision(
                False,
                "cap_reached",
                _("The contact already got %(count)d messages in %(days)d days.")
                % {"count": rules.cap_messages, "days": rules.cap_days},
                not_before=frees_at,
            )
    quiet = quiet_until(at, zone(contact.time_zone, facts.zone), rules.quiet_start, rules.quiet_end)
    if quiet is not None:
        return Decision(
            False, "quiet_hours", _("It is night where the contact lives."), not_before=quiet
        )
    return Decision(True, "ok")


def may_contact(
    contact: Contact,
    *,
    channel: str,
    purpose: str,
    at: datetime.datetime | None = None,
    topic: str | None = None,
) -> Decision:
    """May ``contact`` be reached on ``channel`` for ``purpose`` at ``at`` (default now)?
    ``topic`` (a Topic key) narrows marketing to what the contact still wants."""
    _check(channel, purpose)
    at = at or timezone.now()
    if purpose == Purpose.MARKETING:
        # Hold the contact until the transaction ends, so the count below stays true.
        _lock(contact.pk)
    facts = _facts([contact], channel=channel, purpose=purpose, at=at, topic=topic)
    return _decide(contact, facts, channel=channel, purpose=purpose, at=at)


def contact_reading(
    contact: Contact, *, channel: str, at: datetime.datetime
) -> tuple[PressureSettings, int, Decision]:
    """What a contact's page shows, read in ``may_contact_many``'s queries and without
    holding the contact (a page only reads): the rules, the messages counted in the cap's
    window, and whether marketing may go on ``channel`` at ``at``."""
    _check(channel, Purpose.MARKETING)
    facts = _facts([contact], channel=channel, purpose=Purpose.MARKETING, at=at, topic=None)
    decision = _decide(contact, facts, channel=channel, purpose=Purpose.MARKETING, at=at)
    return facts.rules, facts.counted.get(contact.pk, 0), decision


def may_contact_many(
    contacts: Sequence[Contact],
    *,
    channel: str,
    purpose: str,
    at: datetime.datetime | None = None,
    topic: str | None = None,
) -> dict[int, Decision]:
    """``may_contact`` for a batch (a campaign's claimed rows): the same answers, keyed by
    contact pk, in a fixed number of queries whatever the batch's size. Outside a transaction,
    as campaign sending runs, no contact is locked; each message is recorded as soon as it
    went, so the next batch counts it."""
    _check(channel, purpose)
    at = at or timezone.now()
    if not contacts:
        return {}
    facts = _facts(contacts, channel=channel, purpose=purpose, at=at, topic=topic)
    return {
        contact.pk: _decide(contact, facts, channel=channel, purpose=purpose, at=at)
        for contact in contacts
    }


def record_contact(
    contact: Contact,
    *,
    channel: str,
    purpose: str,
    source: str,
    at: datetime.datetime | None = None,
) -> None:
    """Note that ``contact`` was reached on ``channel`` (``source``: e.g. "campaign:12")."""
    _check(channel, purpose)
    if not source or len(source) > MAX_SOURCE:
        raise ServiceError(
            _("Name the source in 1 to %(max)d characters.") % {"max": MAX_SOURCE}, field="source"
        )
    with transaction.atomic():
        _lock(contact.pk)
        ContactTouch.objects.create(
            contact_id=contact.pk,
            channel=channel,
            purpose=purpose,
            source=source,
            at=at or timezone.now(),
        )
