from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales.models import Company, Contact, Deal, Lead, Task
from crm_modules.sales.module import (
    REASSIGN_RECORDS,
    TASK_COMPLETED,
    TASK_CREATED,
    TASK_DELETED,
    TASK_UPDATED,
    TASKS_TOPIC,
    WORK_TASKS,
)
from crm_modules.sales.services import checks
from crm_modules.sales.services.reminders import task_reminder_alarm
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.live import publish
from tenants.models import Membership
from tenants.permissions import allows, require

RELATED: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal, "lead": Lead}


def _clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "title":
            clean[name] = check_text(
                value if isinstance(value, str) else "",
                field=name,
                max_length=200,
                label=_("Title"),
            )
        elif name == "due_at":
            clean[name] = checks.check_datetime(value, field=name)
        elif name == "priority":
            try:
                priority = int(value)
            except (TypeError, ValueError):
                priority = 0
            if priority not in Task.Priority.values:
                raise ServiceError(_("Choose a value from the list."), field=name)
            clean[name] = priority
        elif name in RELATED:
            clean[name] = _related(name, value)
        else:
            raise ServiceError(_("This field cannot be changed here."), field=name)
    return clean


def _related(name: str, value: Any) -> Any:
    if value in (None, ""):
        return None
    model = RELATED[name]
    if isinstance(value, model):
        return value
    try:
        record = model.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        record = None
    if record is None:
        raise ServiceError(_("Choose an existing record."), field=name)
    return record


def _publish(actor: Membership, event: str, task: Task, *, former_owner: int | None = None) -> None:
    publish(
        tenant=actor.tenant,
        topic=TASKS_TOPIC,
        event=event,
        payload={"id": task.pk},
        # A reassigned task's former assignee hears it too: it leaves their lists.
        owners=[task.owner_id, former_owner],
    )


def task_create(*, actor: Membership, owner_id: Any = None, **fields: Any) -> Task:
    """``owner_id`` is the assignee (the creator when not given)."""
    require(actor, WORK_TASKS)
    clean = _clean({"title": fields.pop("title", ""), **fields})
    assignee = actor.user_id if owner_id in (None, "") else checks.check_owner(actor, owner_id)
    task = Task(**clean, owner_id=assignee, created_by=actor.user)
    if assignee != actor.user_id and not allows(actor, REASSIGN_RECORDS, task):
        raise ServiceError(_("Your role does not allow assigning tasks to others."), field="owner")
    with transaction.atomic():
        task.save()
        task_reminder_alarm(task.due_at)
        audit_record(tenant=actor.tenant, actor=actor.user, action=TASK_CREATED, target=task)
        _publish(actor, "task.created", task)
    return task


def task_update(*, actor: Membership, task: Task, changes: Mapping[str, Any]) -> Task:
    changes = dict(changes)
    owner_id = changes.pop("owner", changes.pop("owner_id", task.owner_id))
    require(actor, WORK_TASKS, task)
    clean = _clean(changes)
    new_owner = checks.check_owner(actor, owner_id) if owner_id != task.owner_id else owner_id
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        require(actor, WORK_TASKS, locked)
        if new_owner != locked.owner_id and not allows(actor, REASSIGN_RECORDS, locked):
            raise ServiceError(
                _("Your role does not allow assigning tasks to others."), field="owner"
            )
        reminder_due = ("due_at" in clean and clean["due_at"] != locked.due_at) or (
            new_owner != locked.owner_id
        )
        for name, value in clean.items():
            setattr(locked, name, value)
        previous_owner = locked.owner_id
        locked.owner_id = new_owner
        if reminder_due:
            # A new due time or assignee is reminded afresh.
            locked.reminded_at = None
            task_reminder_alarm(locked.due_at)
        locked.save(update_fields=[*clean, "owner", "reminded_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=TASK_UPDATED,
            target=locked,
            data={"fields": sorted(clean)},
        )
        _publish(actor, "task.updated", locked, former_owner=previous_owner)
    return locked


def task_complete(*, actor: Membership, task: Task, done: bool = True) -> Task:
    require(actor, WORK_TASKS, task)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        require(actor, WORK_TASKS, locked)
        if locked.done == done:
            return locked
        locked.done = done
        locked.done_at = timezone.now() if done else None
        locked.save(update_fields=["done", "done_at"])
        if done:
            concerns = [
                r
                for r in (locked.contact, locked.company, locked.deal, locked.lead)
                if r is not None
            ]
            if concerns:
                timeline.activity_log(
                    kind=timeline.TASK_DONE.code,
                    author=actor.user,
                    concerns=concerns,
                    subject=locked.title,
                )
            audit_record(
                tenant=actor.tenant, actor=actor.user, action=TASK_COMPLETED, target=locked
            )
        else:
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=TASK_UPDATED,
                target=locked,
                data={"fields": ["done"]},
            )
        _publish(actor, "task.completed" if done else "task.updated", locked)
    return locked


def task_delete(*, actor: Membership, task: Task) -> None:
    require(actor, WORK_TASKS, task)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        require(actor, WORK_TASKS, locked)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=TASK_DELETED,
            target_repr=str(locked),
            data={"id": locked.pk},
        )
        _publish(actor, "task.deleted", locked)
        locked.delete()
