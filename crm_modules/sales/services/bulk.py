"""Bulk actions on the lists: give records to another member, add a tag, delete. Each record is
checked on its own (the acting member may reach some and not others); the allowed ones are
changed through the record's own service (same validation, audit and timeline), all in one
transaction, and the rest are counted as skipped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from crm_modules.sales.models import Company, Contact, Deal, Lead
from crm_modules.sales.module import (
    DELETE_RECORDS,
    EDIT_MARKETING,
    EDIT_RECORDS,
    REASSIGN_RECORDS,
    VIEW_RECORDS,
)
from crm_modules.sales.services import checks
from crm_modules.sales.services.companies import company_delete, company_update
from crm_modules.sales.services.contacts import contact_delete, contact_update
from crm_modules.sales.services.deals import deal_delete, deal_update
from crm_modules.sales.services.leads import lead_delete, lead_update
from crm_platform.errors import ServiceError
from tenants.capabilities import Capability
from tenants.models import Membership
from tenants.permissions import allows, scope_filter

MAX_RECORDS = 200


@dataclass(frozen=True)
class Kind:
    model: type[Model]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    arg: str  # the services' keyword for the record
    tag_capability: Capability | None  # None: the kind has no tags


KINDS: dict[str, Kind] = {
    "contact": Kind(Contact, contact_update, contact_delete, "contact", EDIT_MARKETING),
    "company": Kind(Company, company_update, company_delete, "company", EDIT_RECORDS),
    "lead": Kind(Lead, lead_update, lead_delete, "lead", None),
    "deal": Kind(Deal, deal_update, deal_delete, "deal", None),
}
ACTIONS = ("owner", "tag", "delete")


@dataclass(frozen=True)
class BulkResult:
    changed: int
    skipped: int


def _check_ids(raw: Sequence[Any]) -> list[int]:
    try:
        ids = list(dict.fromkeys(int(value) for value in raw))
    except (TypeError, ValueError):
        raise ServiceError(_("Choose records from the list."), field="ids") from None
    if not ids:
        raise ServiceError(_("Choose at least one record."), field="ids", code="required")
    if len(ids) > MAX_RECORDS:
        raise ServiceError(
            _("Choose at most %(max)d records at once.") % {"max": MAX_RECORDS}, field="ids"
        )
    return ids


def records_bulk_apply(
    *, actor: Membership, entity: str, ids: Sequence[Any], action: str, value: Any = ""
) -> BulkResult:
    """Apply ``action`` ("owner": give to member ``value``; "tag": add tag ``value``;
    "delete") to the records of ``entity`` with these ids that the actor may see; those the
    actor may not change are skipped."""
    kind = KINDS.get(entity)
    if kind is None:
        raise ServiceError(_("Choose a kind of record."), field="entity")
    if action not in ACTIONS:
        raise ServiceError(_("Choose an action from the list."), field="action")
    clean_ids = _check_ids(ids)
    capability: Capability
    changes: dict[str, Any] = {}
    tag = ""
    if action == "owner":
        owner = checks.check_owner(actor, value, field="value")
        if owner is None:
            raise ServiceError(_("Choose a member of this workspace."), field="value")
        capability, changes = REASSIGN_RECORDS, {"owner": owner}
    elif action == "tag":
        if kind.tag_capability is None:
            raise ServiceError(_("These records have no tags."), field="action")
        tags = checks.check_tags([value] if isinstance(value, str) else value, field="value")
        if len(tags) != 1:
            raise ServiceError(_("Write one tag."), field="value", code="required")
        capability, tag = kind.tag_capability, tags[0]
    else:
        capability = DELETE_RECORDS
    visible = scope_filter(
        kind.model._default_manager.filter(pk__in=clean_ids),
        actor,
        VIEW_RECORDS,
        owner_field="owner",
    )
    changed = skipped = seen = 0
    with transaction.atomic():
        for record in visible.order_by("pk"):
            seen += 1
            if not allows(actor, capability, record):
                skipped += 1
                continue
            if action == "delete":
                kind.delete(actor=actor, **{kind.arg: record})
            elif action == "tag":
                current: list[str] = list(getattr(record, "tags", []))
                if tag in current:
                    continue
                kind.update(actor=actor, changes={"tags": [*current, tag]}, **{kind.arg: record})
            else:
                if getattr(record, "owner_id", None) == changes["owner"]:
                    continue
                kind.update(actor=actor, changes=changes, **{kind.arg: record})
            changed += 1
    # Ids out of the actor's sight (or gone) count as skipped, never as an error that would
    # tell whether they exist.
    skipped += len(clean_ids) - seen
    return BulkResult(changed=changed, skipped=skipped)
