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
from dataclasses import dataclass

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
from tenants.modules import contact_holds

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
    address = contact_address(contact, channel)
    suppressed = (
        Suppression.objects.filter(channel=channel, address=address)
        .values_list("reason", flat=True)
        .first()
        if address
        else None
    )
    if suppressed == Suppression.Reason.HARD_BOUNCE:
        return Decision(False, "suppressed", _("The address bounced: nothing can arrive there."))
    if purpose != Purpose.MARKETING:
        return Decision(True, "ok")
    if suppressed is not None:
        return Decision(False, "suppressed", _("The address is on the suppression list."))
    consent = Consent.objects.filter(contact_id=contact.pk, channel=channel).first()
    if consent is not None and consent.status == Consent.Status.WITHDRAWN:
        return Decision(False, "no_consent", _("The contact withdrew consent."))
    if contact.preferred_channel and contact.preferred_channel != channel:
        return Decision(
            False,
            "not_preferred_channel",
            _("The contact prefers to be reached by %(channel)s.")
            % {"channel": contact.get_preferred_channel_display()},
        )
    if topic is not None:
        opted_out = TopicOptOut.objects.filter(contact_id=contact.pk, topic__key=topic)
        if not Topic.objects.filter(key=topic).exists():
            raise ServiceError(_("Unknown topic %(topic)s.") % {"topic": topic}, field="topic")
        if opted_out.exists():
            return Decision(False, "topic_opt_out", _("The contact opted out of this topic."))
    for _key, hold in contact_holds():
        why = hold(contact)
        if why:
            return Decision(False, "held", why)
    rules = pressure_settings()
    _lock(contact.pk)
    _count, frees_at = cap_state(contact, channel=channel, at=at, rules=rules)
    if frees_at is not None:
        return Decision(
            False,
            "cap_reached",
            _("The contact already got %(count)d messages in %(days)d days.")
            % {"count": rules.cap_messages, "days": rules.cap_days},
            not_before=frees_at,
        )
    quiet = quiet_until(at, zone(contact_time_zone(contact)), rules.quiet_start, rules.quiet_end)
    if quiet is not None:
        return Decision(
            False, "quiet_hours", _("It is night where the contact lives."), not_before=quiet
        )
    return Decision(True, "ok")


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
