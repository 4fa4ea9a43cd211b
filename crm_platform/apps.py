from django.apps import AppConfig


class CrmPlatformConfig(AppConfig):
    name = "crm_platform"

    def ready(self) -> None:
        from crm_platform import observability

        observability.setup()
