"""Tickets follow a merge of contacts or companies (ADR 0068): what service keeps of the
merged records — their tickets, the portal messages they wrote, their satisfaction surveys —
moves to the survivor inside the merge, and back when the merge is undone. The survivor's tier
may differ from a merged record's, so the open tickets of the survivor (and, on undo, of every
record involved) get the SLA policy chosen now, in the background after commit (ADR 0061)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from crm_modules.service.models import CsatSurvey, Ticket, TicketMessage
from crm_modules.service.services.sla_policies import sla_reapply_later

# What points at a contact, by name in the returned record of what moved.
_CONTACT_ROWS: dict[str, tuple[type[Model], str]] = {
    "tickets": (Ticket, "contact_id"),
    "messages": (TicketMessage, "sender_contact_id"),
    "surveys": (CsatSurvey, "contact_id"),
}
_COMPANY_ROWS: dict[str, tuple[type[Model], str]] = {"tickets": (Ticket, "company_id")}


def _rows(entity: str) -> dict[str, tuple[type[Model], str]]:
    return _CONTACT_ROWS if entity == "contact" else _COMPANY_ROWS


def tickets_follow_merge(entity: str, survivor_id: int, merged_ids: list[int]) -> dict[str, Any]:
    """Inside the merge: each merged record's rows point at the survivor. Returns, per kind
    of row, the ids moved from each merged record."""
    moved: dict[str, Any] = {}
    for name, (model, column) in _rows(entity).items():
        moved[name] = {}
        for merged_id in merged_ids:
            rows = model._default_manager.filter(**{column: merged_id})
            ids = sorted(rows.values_list("pk", flat=True))
            if ids:
                model._default_manager.filter(pk__in=ids).update(**{column: survivor_id})
            moved[name][str(merged_id)] = ids
    _reapply(entity, [survivor_id])
    return moved


def tickets_follow_undo(entity: str, survivor_id: int, moved: Any) -> None:
    """Inside the undo, once the merged records are back: the rows that moved and still
    point at the survivor go back to their record."""
    restored: list[int] = []
    for name, (model, column) in _rows(entity).items():
        for merged_id, ids in (moved or {}).get(name, {}).items():
            restored.append(int(merged_id))
            model._default_manager.filter(pk__in=ids, **{column: survivor_id}).update(
                **{column: int(merged_id)}
            )
    _reapply(entity, [survivor_id, *restored])


def _reapply(entity: str, ids: list[int]) -> None:
    if entity == "contact":
        sla_reapply_later(contacts=ids)
    elif entity == "company":
        sla_reapply_later(companies=ids)
