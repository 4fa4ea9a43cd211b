"""Telling members about their work: a reminder shortly before a task is due, and a notice
when someone @mentions them in an entry of a timeline. Both reach the member's open pages
(the notifications socket) and their inbox, in their own language and time zone."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from crm_modules.sales.models import Task
from crm_modules.sales.module import VIEW_RECORDS
from crm_platform.errors import ServiceError
from tenants.alarms import alarm_at
from tenants.capabilities import Capability
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant
from tenants.notifications import notify_user
from tenants.permissions import allows

# A task is reminded once, this long before its due time (the sweep runs every minute).
REMIND_BEFORE = datetime.timedelta(minutes=15)
# The workspace alarm (tenants/alarms.py) that brings the sweep to a workspace.
REMINDER_ALARM = "sales.task_reminders"
# Tasks overdue for longer than this when first seen (say, after an outage) are not reminded.
STALE_AFTER = datetime.timedelta(hours=12)
SWEEP_BATCH = 500


def _tell(
    *, tenant: Tenant, member: Membership, subject: Any, template: str, context: dict[str, Any]
) -> None:
    """Render ``subject`` (a callable) and the email body in the member's language and time
    zone, push the subject to their open pages and mail both."""
    user = member.user
    with (
        translation.override(user.language or settings.LANGUAGE_CODE),
        timezone.override(user.time_zone or tenant.time_zone or "UTC"),
    ):
        text = str(subject())
        body = render_to_string(template, {**context, "member": member, "workspace": tenant})
    notify_user(
        tenant=tenant,
        user_id=user.pk,
        event="notification",
        payload={"text": text, "kind": "info", "url": context.get("url", "")},
    )
    send_mail(text, body, None, [user.email])  # queued for delivery after commit


def task_reminder_alarm(*due_ats: datetime.datetime | None) -> None:
    """Tasks with these due times were created or rescheduled in the current workspace: make
    sure the reminder sweep visits it in time for the earliest."""
    times = [due_at for due_at in due_ats if due_at is not None]
    if times:
        alarm_at(kind=REMINDER_ALARM, at=min(times) - REMIND_BEFORE)


def _pending_reminders() -> QuerySet[Task]:
    return Task.objects.filter(done=False, reminded_at__isnull=True, owner__isnull=False)


def task_reminders_next_at(*, now: datetime.datetime) -> datetime.datetime | None:
    """When the sweep next has a reminder to send in the current workspace (None: never,
    until a task is created or rescheduled)."""
    due_at = (
        _pending_reminders()
        .filter(due_at__gt=now - STALE_AFTER)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    return None if due_at is None else due_at - REMIND_BEFORE


def task_reminders_send(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """In the current workspace schema: remind each assignee of their open tasks due within
    ``REMIND_BEFORE``, once per task (until its due time or assignee changes). Safe to run
    concurrently: rows being reminded by another run are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        tasks = list(
            _pending_reminders()
            .select_for_update(skip_locked=True)
            .filter(
                due_at__lte=now + REMIND_BEFORE,
                due_at__gt=now - STALE_AFTER,
            )
            .order_by("due_at", "id")[:SWEEP_BATCH]
        )
        if not tasks:
            return 0
        members = {
            m.user_id: m
            for m in Membership.objects.filter(
                tenant=tenant,
                status=Membership.Status.ACTIVE,
                user_id__in={task.owner_id for task in tasks},
            ).select_related("user")
        }
        sent = 0
        for task in tasks:
            task.reminded_at = now
            member = members.get(task.owner_id) if task.owner_id else None
            if member is None or task.due_at is None:
                continue  # an assignee who left the workspace is not written to
            due_at = task.due_at
            url = workspace_url(tenant.slug or "", reverse("sales:task_list") + "?mine=1")

            def subject(task: Task = task, due_at: datetime.datetime = due_at) -> str:
                when = formats.date_format(timezone.localtime(due_at), "SHORT_DATETIME_FORMAT")
                return _("Task due %(when)s: %(title)s") % {"when": when, "title": task.title}

            _tell(
                tenant=tenant,
                member=member,
                subject=subject,
                template="email/task_reminder.txt",
                context={"task": task, "url": url},
            )
            sent += 1
        Task.objects.bulk_update(tasks, ["reminded_at"])
    return sent


# "@" and a member's email address, e.g. "@anna@example.com".
_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.UNICODE)


def mentioned_members(
    *,
    actor: Membership,
    record: Model,
    text: str,
    capability: Capability = VIEW_RECORDS,
    field: str = "body",
) -> list[Membership]:
    """The members @mentioned in ``text``; each must be an active member of the workspace who
    may see ``record`` (``capability``: another module's records name their own), else the
    error names the mention."""
    emails = list(dict.fromkeys(match.rstrip(".").lower() for match in _MENTION.findall(text)))
    if not emails:
        return []
    if len(emails) > 20:
        raise ServiceError(_("Mention at most 20 members at once."), field=field)
    by_email = Q(pk__in=[])
    for email in emails:
        by_email |= Q(user__email__iexact=email)
    found = {
        m.user.email.lower(): m
        for m in Membership.objects.filter(
            by_email, tenant_id=actor.tenant_id, status=Membership.Status.ACTIVE
        ).select_related("user", "tenant")
    }
    members = []
    for email in emails:
        member = found.get(email)
        if member is None:
            raise ServiceError(
                _("@%(email)s is not a member of this workspace.") % {"email": email},
                field=field,
                code="mention",
            )
        if not allows(member, capability, record):
            raise ServiceError(
                _("@%(email)s cannot see this record.") % {"email": email},
                field=field,
                code="mention",
            )
        members.append(member)
    return members


def mentions_notify(
    *, actor: Membership, record: Model, members: list[Membership], url_path: str
) -> None:
    """Tell each mentioned member (not the author) that they were mentioned on ``record``."""
    tenant = actor.tenant
    author = actor.user.full_name or actor.user.email
    url = workspace_url(tenant.slug or "", url_path)
    for member in members:
        if member.user_id == actor.user_id:
            continue

        def subject(record: Model = record) -> str:
            return _("%(author)s mentioned you on %(record)s") % {
                "author": author,
                "record": str(record),
            }

        _tell(
            tenant=tenant,
            member=member,
            subject=subject,
            template="email/mention.txt",
            context={"author": author, "record": str(record), "url": url},
        )
