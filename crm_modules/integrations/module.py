from django.utils.translation import gettext_lazy as _

from billing.plans import Feature, plans_with
from tenants import capabilities, navigation
from tenants.audit.actions import register_action
from tenants.roles import Role

MODULE = _("Integrations")

MANAGE_API_KEYS = capabilities.register(
    "integrations.manage_api_keys",
    label=_("Create and revoke API keys"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    plans=plans_with(Feature.API),
    writes=True,
)
navigation.register(
    "api_keys",
    label=_("API keys"),
    icon="key",
    url_name="integrations:api_keys",
    capability=MANAGE_API_KEYS,
    order=890,
)
API_KEY_CREATED = register_action("api_key.created", _("API key created"), module=MODULE)
API_KEY_REVOKED = register_action("api_key.revoked", _("API key revoked"), module=MODULE)
