"""The reporting facade: what other modules may use.

A module offers its records to reports by registering a ``DataSource`` (in its ``module.py``
or a file it imports), declaring each field with a ``FieldType``, any ``Measure`` of its own,
how its records are scoped and where one opens.

Customer values (RFM segments and lifetime value, ADR 0025) are offered here for other modules
(marketing's segments): ``customer_segment`` and ``customers_in_segment``. They are not
narrowed to a member: the caller applies its own member's reach to the records it gets.
"""

from __future__ import annotations

from django.db.models import QuerySet

from crm_modules.reporting.models import CustomerValue
from crm_modules.reporting.module import VIEW_REPORTS
from crm_modules.reporting.money import converted, unconverted_currencies
from crm_modules.reporting.registry import (
    DataSource,
    Field,
    FieldType,
    Measure,
    Totals,
    all_sources,
    get_source,
    register_source,
    unregister_source,
)
from crm_modules.reporting.services.reports import dashboard_announce
from tenants.models import Tenant


def announce_to_dashboards(*, tenant: Tenant, event: str) -> None:
    """After commit, tell the workspace's open dashboards that records changed in bulk (an
    import finished or was undone): the charts of sources listing ``event`` in their
    ``live_events`` are fetched again, once per coalescing window."""
    dashboard_announce(tenant=tenant, event=event, payload={})


RFM_SEGMENTS = CustomerValue.Segment
CUSTOMER_KINDS = CustomerValue.Kind


def customer_segment(*, kind: str, record_id: int) -> str | None:
    """The RFM segment of a contact or company (``kind``), or None without a won deal."""
    segment: str | None = (
        CustomerValue.objects.filter(kind=kind, record_id=record_id)
        .values_list("segment", flat=True)
        .first()
    )
    return segment


def contact_values() -> QuerySet[CustomerValue]:
    """The customer values of contacts (one row per contact with a won deal): ``record_id``
    (the contact), ``segment`` (``RFM_SEGMENTS``) and ``lifetime_value`` (in the workspace's
    currency), as of the last recompute — nightly and soon after a deal is won."""
    return CustomerValue.objects.filter(kind=CustomerValue.Kind.CONTACT)


def customers_in_segment(*, kind: str, segment: str) -> QuerySet[CustomerValue, int]:
    """The ids of the contacts or companies in an RFM segment (a subquery to filter with)."""
    return CustomerValue.objects.filter(kind=kind, segment=segment).values_list(
        "record_id", flat=True
    )


__all__ = [
    "CUSTOMER_KINDS",
    "RFM_SEGMENTS",
    "VIEW_REPORTS",
    "DataSource",
    "Field",
    "FieldType",
    "Measure",
    "Totals",
    "all_sources",
    "announce_to_dashboards",
    "contact_values",
    "converted",
    "customer_segment",
    "customers_in_segment",
    "get_source",
    "register_source",
    "unconverted_currencies",
    "unregister_source",
]
