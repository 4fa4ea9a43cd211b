from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class IntegrationsConfig(ModuleConfig):
    name = "crm_modules.integrations"
    label = "integrations"
    verbose_name = _("Integrations")
    url_prefix = "integrations/"
