"""Which data sources a member's reports may read (ADR 0063): a source whose owning capability
the member holds, under ``reporting.view`` — and, for a role whose reports are limited to the
sources that open themselves to it (a Marketer), only those. Every channel asks here: the
compiler, saved-report lists, the dashboard's cards and their live socket, the query API."""

from __future__ import annotations

from crm_modules.reporting.module import SOURCE_LIMITED_ROLES, VIEW_REPORTS
from crm_modules.reporting.registry import DataSource, all_sources, get_source
from tenants.models import Membership
from tenants.permissions import allows


def may_read_source(member: Membership | None, source: DataSource | None) -> bool:
    if member is None or source is None:
        return False
    if not allows(member, VIEW_REPORTS, reading=True):
        return False
    if member.role in SOURCE_LIMITED_ROLES and member.role not in source.report_roles:
        return False
    return allows(member, source.capability, reading=True)


def may_read_source_code(member: Membership | None, code: str) -> bool:
    return may_read_source(member, get_source(code))


def is_source_limited(member: Membership) -> bool:
    return member.role in SOURCE_LIMITED_ROLES


def readable_source_codes(member: Membership) -> list[str]:
    return [source.code for source in all_sources() if may_read_source(member, source)]
