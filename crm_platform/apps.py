from django.apps import AppConfig


class CrmPlatformConfig(AppConfig):
    name = "crm_platform"

    def ready(self) -> None:
        from crm_platform import observability

        # Registers the OpenAPI descriptions of our authentication classes.
        from crm_platform.api import schema  # noqa: F401

        observability.setup()
