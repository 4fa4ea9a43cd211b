from django.utils.translation import gettext_lazy as _

from tenants.modules import ModuleConfig


class DataioConfig(ModuleConfig):
    name = "crm_modules.dataio"
    label = "dataio"
    verbose_name = _("Import and export")
    url_prefix = "data/"
