from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class ServiceConfig(ModuleConfig):
    name = "crm_modules.service"
    label = "service"
    verbose_name = _("Service")
    url_prefix = "service/"
    # The customer portal and the satisfaction links: customers, not members (ADR 0038).
    customer_urls = {"portal/": "crm_modules.service.urls_portal"}
