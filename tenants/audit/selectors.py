from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from tenants.audit.actions import all_actions
from tenants.audit.models import AuditEvent


def audit_event_list(
    *,
    action: str = "",
    actor: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """Events of the current workspace (the connection's schema), newest first."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_email__icontains=actor)
    tz = timezone.get_current_timezone()
    if date_from:
        events = events.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        events = events.filter(created_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return events


def audit_action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Registered actions grouped by module, for the filter's ``<optgroup>``s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for action in all_actions():
        groups.setdefault(str(action.module), []).append((action.code, str(action.label)))
    return [(module, sorted(choices, key=lambda c: c[1])) for module, choices in groups.items()]
