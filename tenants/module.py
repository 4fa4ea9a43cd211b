"""What the workspace core adds to the product: its navigation entries. (Its capabilities live
in ``tenants.capabilities`` and its audit actions in ``tenants.audit.actions``.)"""

from django.utils.translation import gettext_lazy as _

from tenants import capabilities, navigation

# (key and URL name, label, icon, capability, order): home first, administration last.
for key, label, icon, capability, order in (
    ("home", _("Home"), "house", capabilities.USE_WORKSPACE, 0),
    ("members", _("Members"), "users", capabilities.USE_WORKSPACE, 900),
    ("roles", _("Roles"), "shield", capabilities.USE_WORKSPACE, 910),
    ("settings", _("Settings"), "settings", capabilities.MANAGE_SETTINGS, 920),
    ("audit_log", _("Audit log"), "scroll-text", capabilities.VIEW_AUDIT_LOG, 930),
):
    navigation.register(
        key, label=label, icon=icon, url_name=key, capability=capability, order=order
    )
