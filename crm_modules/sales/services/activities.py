from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Model
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales.models import Company, Contact, Deal, Lead
from crm_modules.sales.module import VIEW_RECORDS
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require


def _related(record: Model) -> list[Any]:
    """What else an entry on ``record`` concerns: a deal's contacts and company, a contact's
    company, so every one of them shows it (D18)."""
    if isinstance(record, Deal):
        related: list[Any] = list(record.contacts.all())
        if record.company_id is not None:
            related.append(("sales.company", record.company_id))
        return related
    if isinstance(record, Contact) and record.company_id is not None:
        return [("sales.company", record.company_id)]
    return []


def record_log_activity(
    *,
    actor: Membership,
    record: Company | Contact | Deal | Lead,
    kind: str,
    subject: str = "",
    body: str = "",
    direction: str = "",
    outcome: str = "",
    occurred_at: datetime.datetime | None = None,
) -> timeline.Activity:
    """Log a call, meeting, email, message or note on a record a member can see."""
    require(actor, timeline.LOG_ACTIVITY)
    require(actor, VIEW_RECORDS, record)
    entry = timeline.entry_type(kind)
    if entry is None or not entry.manual:
        raise ServiceError(_("Choose a type of activity from the list."), field="kind")
    if len(body) > 20_000:
        raise ServiceError(_("The details can be at most 20000 characters."), field="body")
    if not (subject.strip() or body.strip()):
        raise ServiceError(_("Write a subject or some details."), field="subject", code="required")
    related = _related(record)
    logged = timeline.activity_log(
        kind=kind,
        author=actor.user,
        concerns=[record, *related],
        subject=subject.strip(),
        body=body,
        channel={"call": "phone", "email": "email", "meeting": "meeting"}.get(kind, ""),
        direction=direction,
        outcome=outcome[:100],
        occurred_at=occurred_at,
    )
    # Engagement counts in lead scores: the records it concerns are scored again.
    scored = [record, *related]
    score_inputs_changed(entity="contact", ids=[r.pk for r in scored if isinstance(r, Contact)])
    score_inputs_changed(entity="lead", ids=[r.pk for r in scored if isinstance(r, Lead)])
    return logged
