from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import modules

        # Every app's module.py registers its capabilities, navigation, actions and topics.
        modules.discover()
