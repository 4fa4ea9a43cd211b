"""Bulk actions on the lists and the API: give records to another member, change a deal's stage
or a record's lifecycle stage, add or remove a tag, delete. Each record is checked on its own
(the acting member may reach some and not others) and changed through the record's own service
(same validation, audit and timeline) in its own savepoint: one record that fails leaves the
others changed, and never stays half-changed itself. Every id gets an outcome. Open pages hear
one summary per kind of change, naming the records that changed (``tenants.live.coalesced``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from crm_modules.sales.models import Company, Contact, Deal, Lead, LifecycleStage, Stage
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
from crm_modules.sales.services.deals import deal_delete, deal_move_stage, deal_update
from crm_modules.sales.services.leads import lead_delete, lead_update
from crm_platform.errors import PermissionDenied, ServiceError
from tenants import live
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
    tag_capability: Capability
    lifecycle_capability: Capability | None  # None: the kind has no lifecycle stage


KINDS: dict[str, Kind] = {
    "contact": Kind(
        Contact, contact_update, contact_delete, "contact", EDIT_MARKETING, EDIT_MARKETING
    ),
    "company": Kind(Company, company_update, company_delete, "company", EDIT_RECORDS, EDIT_RECORDS),
    "lead": Kind(Lead, lead_update, lead_delete, "lead", EDIT_RECORDS, None),
    "deal": Kind(Deal, deal_update, deal_delete, "deal", EDIT_RECORDS, None),
}
ACTIONS = ("owner", "tag", "untag", "stage", "lifecycle", "delete")


class Status:
    """What became of one id."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"  # already as asked
    NOT_ALLOWED = "not_allowed"  # the member's role does not reach this record for the action
    NOT_FOUND = "not_found"  # no such record in the member's sight (never says which)
    FAILED = "failed"  # the record's service refused the change; ``message`` says why


@dataclass(frozen=True)
class Outcome:
    id: int
    status: str
    code: str = ""
    field: str = ""
    message: str = ""


@dataclass(frozen=True)
class BulkResult:
    outcomes: tuple[Outcome, ...] = field(default=())

    def count(self, *statuses: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status in statuses)

    @property
    def changed(self) -> int:
        return self.count(Status.CHANGED)

    @property
    def skipped(self) -> int:
        """Ids the member may not change, or cannot see."""
        return self.count(Status.NOT_ALLOWED, Status.NOT_FOUND)

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == Status.FAILED]


@dataclass(frozen=True)
class _Plan:
    """A checked action: the capability each record needs and how to apply it to one record
    (returns False when the record is already as asked)."""

    capability: Capability
    apply: Callable[[Any], bool]


def _check_ids(raw: Sequence[Any]) -> list[int]:
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise ServiceError(_("Choose records from the list."), field="ids")
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


def _check_one_tag(value: Any) -> str:
    tags = checks.check_tags([value] if isinstance(value, str) else value, field="value")
    if len(tags) != 1:
        raise ServiceError(_("Write one tag."), field="value", code="required")
    return tags[0]


def _plan(
    *, actor: Membership, kind: Kind, entity: str, action: str, value: Any, lost_reason: str
) -> _Plan:
    """Validate the action and its value once, before any record is touched."""

    def update(record: Any, changes: dict[str, Any]) -> bool:
        kind.update(actor=actor, changes=changes, **{kind.arg: record})
        return True

    if action == "owner":
        owner = checks.check_owner(actor, value, field="value")
        if owner is None:
            raise ServiceError(_("Choose a member of this workspace."), field="value")
        return _Plan(
            REASSIGN_RECORDS,
            lambda record: record.owner_id != owner and update(record, {"owner": owner}),
        )
    if action in ("tag", "untag"):
        tag = _check_one_tag(value)

        def retag(record: Any) -> bool:
            current: list[str] = list(record.tags)
            if action == "tag":
                wanted = current if tag in current else [*current, tag]
            else:
                wanted = [t for t in current if t != tag]
            return wanted != current and update(record, {"tags": wanted})

        return _Plan(kind.tag_capability, retag)
    if action == "lifecycle":
        if kind.lifecycle_capability is None:
            raise ServiceError(_("These records have no lifecycle stage."), field="action")
        stage = checks.check_choice(
            value, field="value", choices=LifecycleStage.values, blank=False
        )
        return _Plan(
            kind.lifecycle_capability,
            lambda record: (
                record.lifecycle_stage != stage and update(record, {"lifecycle_stage": stage})
            ),
        )
    if action == "stage":
        if entity != "deal":
            raise ServiceError(_("Only deals move between stages."), field="action")
        target = _check_stage(value)
        reason = checks.check_optional_text(
            lost_reason, field="lost_reason", max_length=200, label=_("Lost reason")
        )
        if target.kind == Stage.Kind.LOST and not reason:
            raise ServiceError(
                _("Say why the deals were lost."), field="lost_reason", code="required"
            )

        def move(record: Any) -> bool:
            if record.stage_id == target.pk:
                return False
            deal_move_stage(actor=actor, deal=record, stage=target.pk, lost_reason=reason)
            return True

        return _Plan(EDIT_RECORDS, move)

    def delete(record: Any) -> bool:
        kind.delete(actor=actor, **{kind.arg: record})
        return True

    return _Plan(DELETE_RECORDS, delete)


def _check_stage(value: Any) -> Stage:
    try:
        stage = Stage.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        stage = None
    if stage is None:
        raise ServiceError(_("Choose a stage from the list."), field="value")
    return stage


def records_bulk_apply(
    *,
    actor: Membership,
    entity: str,
    ids: Sequence[Any],
    action: str,
    value: Any = "",
    lost_reason: str = "",
) -> BulkResult:
    """Apply ``action`` to the records of ``entity`` with these ids:

    - "owner": give them to the member whose user id is ``value``;
    - "tag" / "untag": add or remove the tag ``value``;
    - "lifecycle": set the lifecycle stage ``value`` (contacts and companies);
    - "stage": move deals to the stage ``value`` (``lost_reason`` for a lost stage);
    - "delete".

    Bad input (an unknown action, a value that is not a member, a tag or a stage) raises
    ``ServiceError`` before anything changes. Otherwise every id gets an ``Outcome``."""
    kind = KINDS.get(entity)
    if kind is None:
        raise ServiceError(_("Choose a kind of record."), field="entity")
    if action not in ACTIONS:
        raise ServiceError(_("Choose an action from the list."), field="action")
    clean_ids = _check_ids(ids)
    plan = _plan(
        actor=actor,
        kind=kind,
        entity=entity,
        action=action,
        value=value,
        lost_reason=lost_reason or "",
    )
    visible = scope_filter(
        kind.model._default_manager.filter(pk__in=clean_ids),
        actor,
        VIEW_RECORDS,
        owner_field="owner",
    )
    records = {record.pk: record for record in visible}
    # Open pages hear one summary per kind of change, naming the records that changed, instead
    # of an event per record.
    with live.coalesced():
        outcomes = _apply_each(actor=actor, kind=kind, plan=plan, ids=clean_ids, records=records)
    return BulkResult(outcomes=tuple(outcomes))


def _apply_each(
    *, actor: Membership, kind: Kind, plan: _Plan, ids: list[int], records: dict[Any, Any]
) -> list[Outcome]:
    outcomes = []
    for record_id in ids:
        record = records.get(record_id)
        if record is None:
            # Out of the member's sight, or gone: never tell which.
            outcomes.append(Outcome(record_id, Status.NOT_FOUND))
            continue
        if not allows(actor, plan.capability, record):
            outcomes.append(Outcome(record_id, Status.NOT_ALLOWED, code="permission_denied"))
            continue
        try:
            with transaction.atomic():
                # Decide from the record as it is now, under its lock (the service locks it
                # again within this savepoint, and checks the member's reach again).
                locked = (
                    kind.model._default_manager.select_for_update(of=("self",))
                    .filter(pk=record_id)
                    .first()
                )
                if locked is None:
                    outcomes.append(Outcome(record_id, Status.NOT_FOUND))
                    continue
                changed = plan.apply(locked)
        except PermissionDenied as refused:
            outcomes.append(
                Outcome(record_id, Status.NOT_ALLOWED, code=refused.code, message=refused.message)
            )
            continue
        except ServiceError as error:
            outcomes.append(
                Outcome(
                    record_id,
                    Status.FAILED,
                    code=error.code,
                    field=error.field or "",
                    message=error.message,
                )
            )
            continue
        outcomes.append(Outcome(record_id, Status.CHANGED if changed else Status.UNCHANGED))
    return outcomes
