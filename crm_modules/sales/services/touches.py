"""Where a contact or lead came from: the first and the last touch (UTM parameters, referrer,
landing page, when). Marketing's lead capture writes them for anonymous visitors, so there is
no acting member: the caller has already checked the form that let the visitor in."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from crm_modules.sales.models import Contact, Lead

TOUCH_KEYS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_page",
    "at",
)
UTM_KEYS = TOUCH_KEYS[:5]


def _clean_touch(touch: Mapping[str, str]) -> dict[str, str]:
    clean = {key: str(touch.get(key) or "")[:500] for key in TOUCH_KEYS}
    if not clean["at"]:
        clean["at"] = timezone.now().isoformat()
    for key in UTM_KEYS:
        clean[key] = clean[key][:150]
    return clean


def record_touch(*, record: Contact | Lead, touch: Mapping[str, str]) -> Contact | Lead:
    """Store ``touch`` as the record's last touch, and as its first when it has none yet. A
    contact with no UTM fields takes them from its first touch."""
    clean = _clean_touch(touch)
    model = type(record)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=record.pk)
        fields = ["last_touch", "updated_at"]
        locked.last_touch = clean
        if not locked.first_touch:
            locked.first_touch = clean
            fields.append("first_touch")
        if isinstance(locked, Contact) and not any(getattr(locked, k) for k in UTM_KEYS):
            for key in UTM_KEYS:
                setattr(locked, key, locked.first_touch.get(key, ""))
            fields.extend(UTM_KEYS)
        locked.updated_at = timezone.now()
        locked.save(update_fields=fields)
    return locked


def touches_carry(*, lead: Lead, contact: Contact) -> None:
    """A converted lead's touches stay known on the contact it became: its first touch when the
    contact has none, and its last touch when that is the later one."""
    if not lead.first_touch:
        return
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    fields = ["updated_at"]
    if not locked.first_touch:
        locked.first_touch = lead.first_touch
        fields.append("first_touch")
    if str(lead.last_touch.get("at", "")) > str(locked.last_touch.get("at", "")):
        locked.last_touch = lead.last_touch
        fields.append("last_touch")
    if not any(getattr(locked, k) for k in UTM_KEYS):
        for key in UTM_KEYS:
            setattr(locked, key, locked.first_touch.get(key, ""))
        fields.extend(UTM_KEYS)
    locked.updated_at = timezone.now()
    locked.save(update_fields=fields)
