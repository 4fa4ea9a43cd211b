"""The marketing facade: what other modules may import (import-linter enforces it)."""

from __future__ import annotations

from crm_modules.marketing.contact_rules import address_suppress
from crm_modules.marketing.models import Segment
from crm_modules.marketing.module import MANAGE_SEGMENTS, VIEW_SEGMENTS
from crm_modules.marketing.pressure import (
    Decision,
    Purpose,
    may_contact,
    may_contact_many,
    record_contact,
)
from crm_modules.marketing.recipients import (
    list_unsubscribe_headers,
    opt_in_request,
    preferences_url,
    unsubscribe_url,
)
from crm_modules.marketing.selectors import segment_contacts, segment_count, segment_get

__all__ = [
    "MANAGE_SEGMENTS",
    "VIEW_SEGMENTS",
    "Decision",
    "Purpose",
    "Segment",
    "address_suppress",
    "list_unsubscribe_headers",
    "may_contact",
    "may_contact_many",
    "opt_in_request",
    "preferences_url",
    "record_contact",
    "segment_contacts",
    "segment_count",
    "segment_get",
    "unsubscribe_url",
]
