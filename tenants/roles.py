"""The roles a member of a workspace can hold."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    SALES_REP = "sales_rep", _("Sales rep")
    SUPPORT_AGENT = "support_agent", _("Support agent")
    MARKETER = "marketer", _("Marketer")
    READ_ONLY = "read_only", _("Read-only")


ALL_ROLES: frozenset[str] = frozenset(Role.values)
# Roles an Admin may grant; only an Owner makes another Owner.
ROLES_ADMIN_CAN_GRANT: frozenset[str] = ALL_ROLES - {Role.OWNER}
