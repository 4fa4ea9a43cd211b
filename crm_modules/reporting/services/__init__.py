"""Reporting's writes, by concern: saved reports (``reports``) and monthly quotas
(``quotas``)."""

from crm_modules.reporting.services.quotas import quota_delete, quota_set
from crm_modules.reporting.services.reports import (
    _may_manage,
    check_name,
    check_roles,
    dashboard_announce,
    dashboard_group,
    report_delete,
    report_pin,
    report_save,
    report_share,
)

__all__ = [
    "_may_manage",
    "check_name",
    "check_roles",
    "dashboard_announce",
    "dashboard_group",
    "quota_delete",
    "quota_set",
    "report_delete",
    "report_pin",
    "report_save",
    "report_share",
]
