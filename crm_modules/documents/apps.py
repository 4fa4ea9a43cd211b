from tenants.modules import ModuleConfig


class DocumentsConfig(ModuleConfig):
    name = "crm_modules.documents"
    label = "documents"
    url_prefix = "documents/"
