"""The contact rules members set (cap, quiet hours, topics, suppressed addresses) and what the
settings page and a contact's page show of them (ADR 0033)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm_modules.marketing.models import ContactTouch, PressureSettings, Suppression, Topic
from crm_modules.marketing.module import (
    CONTACT_RULES_CHANGED,
    MANAGE_CONTACT_RULES,
    SUPPRESSION_ADDED,
    TOPIC_CREATED,
    TOPIC_DELETED,
    VIEW_CONTACT_PRESSURE,
)
from crm_modules.marketing.pressure import (
    CHANNELS,
    contact_reading,
    contact_time_zone,
    pressure_settings,
)
from crm_modules.sales.api import Contact
from crm_platform.errors import PermissionDenied, ServiceError
from crm_platform.validation import check_email, check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import allows, require

MAX_CAP_MESSAGES = 100
MAX_CAP_DAYS = 90
MAX_TOPICS = 100
RECENT_TOUCHES = 10


def _optional(raw: str, *, field: str, max_length: int, label: str) -> str:
    if not raw.strip():
        return ""
    return check_text(raw, field=field, max_length=max_length, label=label).strip()


def pressure_settings_update(
    *,
    actor: Membership,
    cap_messages: int,
    cap_days: int,
    cap_scope: str,
    quiet_start: datetime.time,
    quiet_end: datetime.time,
) -> PressureSettings:
    require(actor, MANAGE_CONTACT_RULES)
    if not 0 <= cap_messages <= MAX_CAP_MESSAGES:
        raise ServiceError(
            _("Give 0 (no cap) to %(max)d messages.") % {"max": MAX_CAP_MESSAGES},
            field="cap_messages",
        )
    if not 1 <= cap_days <= MAX_CAP_DAYS:
        raise ServiceError(
            _("Give a window of 1 to %(max)d days.") % {"max": MAX_CAP_DAYS}, field="cap_days"
        )
    if cap_scope not in PressureSettings.Scope.values:
        raise ServiceError(_("Choose all channels or each channel."), field="cap_scope")
    with transaction.atomic():
        pressure_settings()
        rules = PressureSettings.objects.select_for_update().get(pk=1)
        before = {
            "cap_messages": rules.cap_messages,
            "cap_days": rules.cap_days,
            "cap_scope": rules.cap_scope,
            "quiet_start": rules.quiet_start.isoformat("minutes"),
            "quiet_end": rules.quiet_end.isoformat("minutes"),
        }
        rules.cap_messages = cap_messages
        rules.cap_days = cap_days
        rules.cap_scope = cap_scope
        rules.quiet_start = quiet_start.replace(second=0, microsecond=0)
        rules.quiet_end = quiet_end.replace(second=0, microsecond=0)
        rules.updated_at = timezone.now()
        rules.save()
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CONTACT_RULES_CHANGED,
            target=rules,
            target_repr=str(rules),
            data={"before": before},
        )
    return rules


def topic_create(*, actor: Membership, name: str, description: str = "") -> Topic:
    require(actor, MANAGE_CONTACT_RULES)
    if not name.strip():
        raise ServiceError(_("Give the topic a name."), field="name", code="required")
    name = check_text(name, field="name", max_length=100, label=_("Name")).strip()
    description = _optional(
        description, field="description", max_length=300, label=_("Description")
    )
    key = slugify(name, allow_unicode=False)[:50] or f"topic-{Topic.objects.count() + 1}"
    if Topic.objects.count() >= MAX_TOPICS:
        raise ServiceError(
            _("A workspace has at most %(max)d topics.") % {"max": MAX_TOPICS}, field="name"
        )
    try:
        with transaction.atomic():
            topic = Topic.objects.create(key=key, name=name, description=description)
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=TOPIC_CREATED,
                target=topic,
                target_repr=topic.name,
            )
    except IntegrityError as error:
        raise ServiceError(
            _("A topic with the key %(key)s exists already.") % {"key": key}, field="name"
        ) from error
    return topic


def topic_delete(*, actor: Membership, topic: Topic) -> None:
    require(actor, MANAGE_CONTACT_RULES)
    with transaction.atomic():
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=TOPIC_DELETED,
            target=topic,
            target_repr=topic.name,
        )
        topic.delete()


def suppression_add(
    *, actor: Membership, channel: str, address: str, reason: str, note: str = ""
) -> Suppression:
    """Put an address on the suppression list (a member adds by hand; bounce and complaint
    handling add with their reason). Adding it again keeps the first entry."""
    require(actor, MANAGE_CONTACT_RULES)
    if channel not in CHANNELS:
        raise ServiceError(_("Choose a channel."), field="channel")
    if reason not in Suppression.Reason.values:
        raise ServiceError(_("Choose a reason."), field="reason")
    if channel == "email":
        address = check_email(address, field="address").lower()
    else:
        address = check_text(address, field="address", max_length=20, label=_("Address")).strip()
        if not address:
            raise ServiceError(_("Give the phone number."), field="address", code="required")
    note = _optional(note, field="note", max_length=200, label=_("Note"))
    with transaction.atomic():
        suppression, created = Suppression.objects.get_or_create(
            channel=channel,
            address=address,
            defaults={"reason": reason, "note": note, "created_by": actor.user},
        )
        if created:
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=SUPPRESSION_ADDED,
                target=suppression,
                target_repr=address,
                data={"channel": channel, "reason": reason},
            )
    return suppression


def address_suppress(*, channel: str, address: str, reason: str, note: str = "") -> bool:
    """For bounce and complaint handling (no member behind it): suppress an address. False
    when it was suppressed already (a repeated webhook changes nothing)."""
    if channel not in CHANNELS or reason not in Suppression.Reason.values:
        raise ServiceError(_("Choose a channel and a reason."), field="reason")
    address = address.strip().lower() if channel == "email" else address.strip()
    if not address:
        raise ServiceError(_("Give the address."), field="address", code="required")
    _row, created = Suppression.objects.get_or_create(
        channel=channel, address=address[:254], defaults={"reason": reason, "note": note[:200]}
    )
    return created


def rules_panel(*, actor: Membership) -> dict[str, Any]:
    if not allows(actor, MANAGE_CONTACT_RULES, reading=True):
        raise PermissionDenied(_("Your role does not allow this."))
    return {
        "rules": pressure_settings(),
        "scopes": PressureSettings.Scope.choices,
        "topics": list(Topic.objects.all()[:MAX_TOPICS]),
        "suppressions": list(Suppression.objects.order_by("-created_at", "-id")[:10]),
        "suppression_count": Suppression.objects.count(),
        "reasons": Suppression.Reason.choices,
        "channels": CHANNELS,
    }


def contact_pressure_panel(*, actor: Membership, contact: Contact) -> dict[str, Any]:
    """What a contact's page shows: the messages counted in the cap's window, whether
    marketing email may go now and, if not, why and until when."""
    require(actor, VIEW_CONTACT_PRESSURE, contact)
    rules, count, decision = contact_reading(contact, channel="email", at=timezone.now())
    return {
        "rules": rules,
        "count": count,
        "decision": decision,
        "time_zone": contact_time_zone(contact),
        "touches": list(
            ContactTouch.objects.filter(contact_id=contact.pk).order_by("-at")[:RECENT_TOUCHES]
        ),
    }
