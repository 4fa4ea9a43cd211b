from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class ServiceConfig(ModuleConfig):
    name = "crm_modules.service"
    label = "service"
    verbose_name = _("Service")
    url_prefix = "service/"
