from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import modules

        # Every app's module.py registers its capabilities, navigation, actions and topics.
        modules.discover()

        from allauth.mfa import signals

        from tenants.adapters import mfa_changed

        # allauth.mfa has no adapter hook for these; the receiver only calls the service.
        for signal in (
            signals.authenticator_added,
            signals.authenticator_removed,
            signals.authenticator_reset,
        ):
            signal.connect(mfa_changed, dispatch_uid=f"rapport.mfa_changed.{id(signal)}")
