from tenants.modules import ModuleConfig


class ReportingConfig(ModuleConfig):
    name = "crm_modules.reporting"
    label = "reporting"
    url_prefix = "reporting/"
