from django.apps import AppConfig


class CrmPlatformConfig(AppConfig):
    name = "crm_platform"
