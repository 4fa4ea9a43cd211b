"""What marketing adds to the product's registries. Who may do what (docs/roles.md, ADR 0028):

- Everyone in the workspace sees segments, their live counts and members (within the contacts
  each may see).
- Owner, Admin, Manager and Marketer create and change segments and static lists.
"""

from django.utils.translation import gettext_lazy as _

from tenants import capabilities, navigation
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
