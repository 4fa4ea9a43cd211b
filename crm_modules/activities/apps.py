from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class ActivitiesConfig(ModuleConfig):
    name = "crm_modules.activities"
    label = "activities"
    verbose_name = _("Activities")
    url_prefix = "activities/"
