from tenants.modules import ModuleConfig


class KitModuleConfig(ModuleConfig):
    name = "tests.kit_module"
    label = "kit_module"
    url_prefix = "notes/"
