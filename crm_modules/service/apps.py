from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class ServiceConfig(ModuleConfig):
    name = "crm_modules.service"
    label = "service"
    verbose_name = _("Service")
    url_prefix = "service/"
    # The web form customers fill in on the workspace's host or in an iframe (ADR 0036).
    open_paths = ("form/",)
