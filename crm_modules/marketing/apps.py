from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class MarketingConfig(ModuleConfig):
    name = "crm_modules.marketing"
    label = "marketing"
    verbose_name = _("Marketing")
    url_prefix = "marketing/"
