"""What reporting adds to the product's registries.

Reports narrow every data source to the viewer's reach: a Sales rep sees the numbers of the
records they own, a Manager their team's, everyone else the whole workspace — even where the
source module lets everyone read every record.
"""

from collections.abc import Sequence

from django.utils.translation import gettext_lazy as _

from tenants import capabilities, navigation
from tenants.audit.actions import register_action
from tenants.capabilities import Scope
from tenants.roles import Role

MODULE = _("Reporting")

VIEW_REPORTS = capabilities.register(
    "reporting.view",
    label=_(
        "See dashboards, shared reports and the records behind them (a Marketer: marketing's "
        "reports only)"
    ),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP, Role.MARKETER, Role.READ_ONLY},
    scopes={Role.MANAGER: Scope.TEAM, Role.SALES_REP: Scope.OWN},
)
# Roles whose reports read only the data sources that open themselves to them
# (``DataSource.report_roles``): a Marketer sees marketing's reports — attribution, campaigns —
# not the sales pipeline's or the service desk's (ADR 0063).
SOURCE_LIMITED_ROLES: frozenset[str] = frozenset({Role.MARKETER})
BUILD_REPORTS = capabilities.register(
    "reporting.build",
    label=_("Build, save and export reports"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM, Role.SALES_REP: Scope.OWN},
)
SHARE_REPORTS = capabilities.register(
    "reporting.share",
    label=_("Share reports with roles and pin them to the dashboard"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)
SET_QUOTAS = capabilities.register(
    "reporting.quotas",
    label=_("Set the monthly quotas of members (a Manager: of their team)"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM},
)
VIEW_ADOPTION = capabilities.register(
    "reporting.adoption",
    label=_("See how each member uses the workspace (sign-ins, activities, records created)"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
)
SET_EXCHANGE_RATES = capabilities.register(
    "reporting.exchange_rates",
    label=_("Set the exchange rates that convert deal amounts into the workspace's currency"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)

navigation.register(
    "reporting",
    label=_("Reports"),
    icon="chart-column",
    url_name="reporting:dashboard",
    capability=VIEW_REPORTS,
    order=150,
)

REPORT_SAVED = register_action("report.saved", _("Report saved"), module=MODULE)
REPORT_SHARED = register_action("report.shared", _("Report shared"), module=MODULE)
REPORT_PINNED = register_action("report.pinned", _("Report pinned or unpinned"), module=MODULE)
REPORT_DELETED = register_action("report.deleted", _("Report deleted"), module=MODULE)
REPORT_EXPORTED = register_action("report.exported", _("Report exported"), module=MODULE)
SCHEDULE_CREATED = register_action("report.scheduled", _("Report scheduled"), module=MODULE)
SCHEDULE_PAUSED = register_action(
    "report.schedule_paused", _("Report schedule paused or resumed"), module=MODULE
)
SCHEDULE_DELETED = register_action(
    "report.schedule_deleted", _("Report schedule deleted"), module=MODULE
)
DASHBOARD_ARRANGED = register_action(
    "dashboard.arranged", _("Dashboard cards arranged"), module=MODULE
)
QUOTA_SET = register_action("quota.set", _("Quota set"), module=MODULE)
QUOTA_DELETED = register_action("quota.deleted", _("Quota removed"), module=MODULE)
EXCHANGE_RATE_SET = register_action("exchange_rate.set", _("Exchange rate set"), module=MODULE)
EXCHANGE_RATE_DELETED = register_action(
    "exchange_rate.deleted", _("Exchange rate removed"), module=MODULE
)

from crm_modules.reporting import sources  # noqa: E402, F401
from crm_modules.reporting.card_cache import on_audited_change, on_live_event  # noqa: E402
from tenants.audit.services import register_audit_listener  # noqa: E402
from tenants.live import register_listener  # noqa: E402
from tenants.modules import RecordEvent, register_record_event_listener  # noqa: E402


def _values_after_won_deals(events: Sequence[RecordEvent]) -> None:
    # Imported here: the tasks import sales, whose reports import this module's facade.
    from crm_modules.reporting.tasks import customer_values_soon

    customer_values_soon(events)


register_listener(on_live_event)
register_audit_listener(on_audited_change)
register_record_event_listener("reporting.customer_values", _values_after_won_deals)
