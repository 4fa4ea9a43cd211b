from tenants.modules import ModuleConfig


class ScoringConfig(ModuleConfig):
    name = "crm_modules.scoring"
    label = "scoring"
    url_prefix = "scoring/"
