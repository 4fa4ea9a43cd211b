from django.utils.translation import gettext_lazy as _

from tenants import capabilities
from tenants.roles import Role

MODULE = _("Activities")

# Reading a timeline needs the capability of the record it belongs to; logging needs this too.
LOG_ACTIVITY = capabilities.register(
    "activities.log",
    label=_("Log calls, meetings, emails and notes on records"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT},
    writes=True,
)

# The timeline as a report data source (registered once the names above exist).
from crm_modules.activities import reports  # noqa: E402, F401
