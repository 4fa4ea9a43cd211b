"""What marketing adds to the product's registries. Who may do what (docs/roles.md, ADR 0028):

- Everyone in the workspace sees segments, their live counts and members (within the contacts
  each may see).
- Owner, Admin, Manager and Marketer create and change segments and static lists.
"""

from django.utils.translation import gettext_lazy as _

from crm_modules.activities import api as timeline
from tenants import capabilities, navigation
from tenants.audit.actions import register_action
from tenants.modules import register_open_path
from tenants.roles import ALL_ROLES, Role

MODULE = _("Marketing")
MARKETERS = {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MARKETER}

VIEW_SEGMENTS = capabilities.register(
    "marketing.view_segments",
    label=_("See segments, their counts and members"),
    module=MODULE,
    roles=ALL_ROLES,
)
MANAGE_SEGMENTS = capabilities.register(
    "marketing.manage_segments",
    label=_("Create and change segments and static lists"),
    module=MODULE,
    roles=MARKETERS,
    writes=True,
)

navigation.register(
    "segments",
    label=_("Segments"),
    icon="filter",
    url_name="marketing:segments",
    capability=VIEW_SEGMENTS,
    order=300,
)

SEGMENT_CREATED = register_action("segment.created", _("Segment created"), module=MODULE)
SEGMENT_MEMBERS_ADDED = register_action(
    "segment.members_added", _("Contacts added to a static list"), module=MODULE
)

# --- lead capture and attribution (ADR 0035) -------------------------------------------------
# Everyone sees the forms and what they brought in; marketers build them. The attribution
# report shows revenue, so it is for the roles that see the whole pipeline's numbers.
VIEW_FORMS = capabilities.register(
    "marketing.view_forms",
    label=_("See forms and their submissions"),
    module=MODULE,
    roles=ALL_ROLES,
)
MANAGE_FORMS = capabilities.register(
    "marketing.manage_forms",
    label=_("Create and change forms"),
    module=MODULE,
    roles=MARKETERS,
    writes=True,
)
VIEW_ATTRIBUTION = capabilities.register(
    "marketing.view_attribution",
    label=_("See revenue attributed to campaigns, sources and media"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.READ_ONLY},
)
MANAGE_CAMPAIGN_COSTS = capabilities.register(
    "marketing.manage_campaign_costs",
    label=_("Enter campaign costs and rebuild attribution"),
    module=MODULE,
    roles=MARKETERS,
    writes=True,
)

navigation.register(
    "forms",
    label=_("Forms"),
    icon="file-text",
    url_name="marketing:forms",
    capability=VIEW_FORMS,
    order=310,
)
navigation.register(
    "attribution",
    label=_("Attribution"),
    icon="chart-column",
    url_name="marketing:attribution",
    capability=VIEW_ATTRIBUTION,
    order=320,
)

FORM_CREATED = register_action("form.created", _("Form created"), module=MODULE)
FORM_UPDATED = register_action("form.updated", _("Form changed"), module=MODULE)
CAMPAIGN_COST_SET = register_action("campaign_cost.set", _("Campaign cost entered"), module=MODULE)

FORM_FILL = timeline.register_entry_type("form_fill", label=_("Form filled"))

# The hosted form page, its embed description and the endpoint forms post to: visitors who are
# not members open them; each view checks the form and its signed token itself.
PUBLIC_FORM_PATH = register_open_path("/marketing/f/")

from crm_modules.marketing import reports  # noqa: E402, F401
