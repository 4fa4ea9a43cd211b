"""Reporting's writes, by concern: saved reports (``reports``), their email schedules
(``schedules``) monthly quotas (``quotas``) and exchange rates (``rates``)."""

from crm_modules.reporting.services.layouts import layout_change
from crm_modules.reporting.services.quotas import quota_delete, quota_set
from crm_modules.reporting.services.rates import rate_delete, rate_set
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
from crm_modules.reporting.services.schedules import (
    schedule_create,
    schedule_delete,
    schedule_pause,
)

__all__ = [
    "_may_manage",
    "check_name",
    "check_roles",
    "dashboard_announce",
    "dashboard_group",
    "layout_change",
    "quota_delete",
    "quota_set",
    "rate_delete",
    "rate_set",
    "report_delete",
    "report_pin",
    "report_save",
    "report_share",
    "schedule_create",
    "schedule_delete",
    "schedule_pause",
]
