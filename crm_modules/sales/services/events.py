"""What sales announces about contacts through ``tenants.modules.record_event`` (won deals, tags
added, lifecycle stages, changed number fields), for modules that react to them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_modules.sales.models import Contact, Deal
from crm_modules.sales.module import (
    DEAL_WON_EVENT,
    FIELD_CHANGED_EVENT,
    LIFECYCLE_EVENT,
    TAG_ADDED_EVENT,
)
from tenants.modules import record_event


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        return str(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def contact_changed(*, before: Contact, after: Contact) -> None:
    """Inside the updating transaction: new tags, a new lifecycle stage and numeric custom
    values that changed."""
    stamp = after.updated_at.isoformat()
    for tag in sorted(set(after.tags or []) - set(before.tags or [])):
        record_event(
            TAG_ADDED_EVENT.code,
            contact_ids=[after.pk],
            occurrence=f"tag:{tag}:{stamp}",
            data={"tag": tag},
        )
    if after.lifecycle_stage != before.lifecycle_stage:
        record_event(
            LIFECYCLE_EVENT.code,
            contact_ids=[after.pk],
            occurrence=f"lifecycle:{after.lifecycle_stage}:{stamp}",
            data={"from": before.lifecycle_stage, "to": after.lifecycle_stage},
        )
    old: Mapping[str, Any] = before.custom or {}
    new: Mapping[str, Any] = after.custom or {}
    for code in sorted(set(old) | set(new)):
        previous, current = _number(old.get(code)), _number(new.get(code))
        if current is not None and previous != current:
            record_event(
                FIELD_CHANGED_EVENT.code,
                contact_ids=[after.pk],
                occurrence=f"field:{code}:{stamp}",
                data={"field": f"custom.{code}", "from": previous, "to": current},
            )


def deal_won(*, deal: Deal, contact_ids: Iterable[int]) -> None:
    """Inside the transaction that moved ``deal`` to a won stage."""
    record_event(
        DEAL_WON_EVENT.code,
        contact_ids=contact_ids,
        occurrence=f"deal:{deal.pk}",
        data={"deal": deal.pk, "amount": str(deal.amount), "currency": deal.currency},
    )
