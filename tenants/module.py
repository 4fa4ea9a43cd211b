"""What the workspace core adds to the product: its navigation entries. (Its capabilities live
in ``tenants.capabilities`` and its audit actions in ``tenants.audit.actions``.)"""

from django.utils.translation import gettext_lazy as _

from tenants import capabilities, navigation

navigation.register(
    "home",
    label=_("Home"),
    icon="house",
    url_name="home",
    capability=capabilities.USE_WORKSPACE,
    order=0,
)
navigation.register(
    "members",
    label=_("Members"),
    icon="users",
    url_name="members",
    capability=capabilities.USE_WORKSPACE,
    order=900,
)
navigation.register(
    "roles",
    label=_("Roles"),
    icon="shield",
    url_name="roles",
    capability=capabilities.USE_WORKSPACE,
    order=910,
)
navigation.register(
    "settings",
    label=_("Settings"),
    icon="settings",
    url_name="settings",
    capability=capabilities.MANAGE_SETTINGS,
    order=920,
)
navigation.register(
    "audit_log",
    label=_("Audit log"),
    icon="scroll-text",
    url_name="audit_log",
    capability=capabilities.VIEW_AUDIT_LOG,
    order=930,
)
