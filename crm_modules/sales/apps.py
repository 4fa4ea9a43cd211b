from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class SalesConfig(ModuleConfig):
    name = "crm_modules.sales"
    label = "sales"
    verbose_name = _("Sales")
    url_prefix = "sales/"
