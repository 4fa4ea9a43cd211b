"""What marketing adds to the product's registries. Who may do what (docs/roles.md, ADR 0028):

- Everyone in the workspace sees segments, their live counts and members (within the contacts
  each may see).
- Owner, Admin, Manager and Marketer create and change segments and static lists.
- Everyone sees campaigns and their reports; Owner, Admin, Manager and Marketer create, test
  and send them (ADR 0034).
"""

from django.utils.translation import gettext_lazy as _

from crm_modules.activities.api import register_entry_type
from tenants import capabilities, live, modules, navigation
from tenants.audit.actions import register_action
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

# --- campaigns (ADR 0034) ----------------------------------------------------------------------

VIEW_CAMPAIGNS = capabilities.register(
    "marketing.view_campaigns",
    label=_("See email campaigns and their reports"),
    module=MODULE,
    roles=ALL_ROLES,
)
MANAGE_CAMPAIGNS = capabilities.register(
    "marketing.manage_campaigns",
    label=_("Create, edit, preview and test-send email campaigns"),
    module=MODULE,
    roles=MARKETERS,
    writes=True,
)
SEND_CAMPAIGNS = capabilities.register(
    "marketing.send_campaigns",
    label=_("Send and schedule email campaigns"),
    module=MODULE,
    roles=MARKETERS,
    writes=True,
)

navigation.register(
    "campaigns",
    label=_("Campaigns"),
    icon="mail",
    url_name="marketing:campaigns",
    capability=VIEW_CAMPAIGNS,
    order=310,
)

CAMPAIGNS_TOPIC = live.register_topic("campaigns", label=_("Campaigns"), capability=VIEW_CAMPAIGNS)

CAMPAIGN_CREATED = register_action("campaign.created", _("Campaign created"), module=MODULE)
CAMPAIGN_UPDATED = register_action("campaign.updated", _("Campaign changed"), module=MODULE)
CAMPAIGN_SENT = register_action("campaign.sent", _("Campaign sent or scheduled"), module=MODULE)
CAMPAIGN_TEST_SENT = register_action(
    "campaign.test_sent", _("Campaign test email sent"), module=MODULE
)
CAMPAIGN_CANCELED = register_action("campaign.canceled", _("Campaign canceled"), module=MODULE)

# A recipient's opens, clicks, bounces... on their timeline.
CAMPAIGN_EMAIL = register_entry_type("campaign_email", label=_("Campaign email"))

# Recipients open the tracking pixel and follow links without being members.
modules.register_open_path("/marketing/t/")
