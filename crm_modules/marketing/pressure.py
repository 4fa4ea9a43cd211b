"""The contact-pressure rule: the one question every sending path asks before it reaches a
contact, and the one ledger every sending path writes after it did.

Every module that emails, texts or calls a contact (campaigns, sequences, service replies,
sales emails, later automation) asks ``may_contact`` first and calls ``record_contact`` once the
message has gone. Modules that know reasons to hold marketing back (an open urgent ticket, a
poor CSAT) join through ``tenants.modules`` registries rather than being imported here, so
marketing never imports them.

This first version answers from consent alone and keeps no ledger yet; the caps, quiet hours
and holds arrive behind the same two functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_modules.sales.api import Consent, Contact


class Purpose(models.TextChoices):
    """Why a message goes out; the rule treats each differently."""

    MARKETING = "marketing", _("Marketing")
    # Receipts, password links, invoices: always allowed, never capped, but counted.
    TRANSACTIONAL = "transactional", _("Transactional")
    # A person writing to one contact (a sales email, a service reply): counted, not capped.
    ONE_TO_ONE = "one_to_one", _("One-to-one")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # A stable code ("ok", "no_consent", ...) and a sentence for people.
    reason: str
    message: str = ""
    # When holding back only for now (quiet hours, a cap window), the earliest allowed moment.
    not_before: datetime | None = None


def may_contact(
    contact: Contact, *, channel: str, purpose: str, at: datetime | None = None
) -> Decision:
    """May ``contact`` be reached on ``channel`` for ``purpose`` at ``at`` (default now)?"""
    del at  # Quiet hours and caps will read it.
    withdrawn = Consent.objects.filter(
        contact=contact, channel=channel, status=Consent.Status.WITHDRAWN
    ).exists()
    if purpose == Purpose.MARKETING and withdrawn:
        return Decision(False, "no_consent", str(_("The contact withdrew consent.")))
    return Decision(True, "ok")


def record_contact(
    contact: Contact,
    *,
    channel: str,
    purpose: str,
    source: str,
    at: datetime | None = None,
) -> None:
    """Note that ``contact`` was reached on ``channel`` (``source``: e.g. "campaign:12")."""
