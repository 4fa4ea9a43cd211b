"""What marketing adds to the product's registries. Who may do what (docs/roles.md, ADR 0028):

- Everyone in the workspace sees segments, their live counts and members (within the contacts
  each may see).
- Owner, Admin, Manager and Marketer create and change segments and static lists.
- Everyone sees campaigns and their reports; Owner, Admin, Manager and Marketer create, test
  and send them (ADR 0034).
- Everyone sees a contact's contact-pressure state (recent messages, cap, holds) on its page.
- Owner, Admin, Manager and Marketer set the contact rules (cap, quiet hours), the topics of
  the preference centre, and add addresses to the suppression list (ADR 0033).
- Everyone sees forms and their submissions; Owner, Admin, Manager and Marketer build them and
  enter campaign costs; the attribution report (revenue) is for those roles and Read-only
  (ADR 0035), on its page and in reports: the attribution data source opens itself to the
  Marketer, whose reports read marketing's sources only (ADR 0063).
- Owner, Admin, Manager and Marketer see the sender domains, their DNS records and check them;
  the Owner and Admins add and remove domains, see the bounce webhook's secret and resume bulk
  sending after a pause (ADR 0043).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _

from billing import plans as billing_plans
from billing.plans import Feature, plans_with
from crm_modules.activities.api import register_entry_type
from tenants import capabilities, live, navigation
from tenants.audit.actions import register_action
from tenants.models import Membership, Tenant
from tenants.modules import (
    register_open_path,
    register_record_event_kind,
    register_record_event_listener,
    register_record_panel,
    register_settings_panel,
)
from tenants.roles import ALL_ROLES, Role

# The plans that include the module: every capability below is refused to the others.
IN_PLAN = plans_with(Feature.MARKETING)

MODULE = _("Marketing")
MARKETERS = {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MARKETER}

VIEW_SEGMENTS = capabilities.register(
    "marketing.view_segments",
    label=_("See segments, their counts and members"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_SEGMENTS = capabilities.register(
    "marketing.manage_segments",
    label=_("Create and change segments and static lists"),
    module=MODULE,
    plans=IN_PLAN,
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
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_CAMPAIGNS = capabilities.register(
    "marketing.manage_campaigns",
    label=_("Create, edit, preview and test-send email campaigns"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS,
    writes=True,
)
SEND_CAMPAIGNS = capabilities.register(
    "marketing.send_campaigns",
    label=_("Send and schedule email campaigns"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS,
    writes=True,
)
VIEW_CONTACT_PRESSURE = capabilities.register(
    "marketing.view_contact_pressure",
    label=_("See how often a contact was reached lately and what holds marketing back"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_CONTACT_RULES = capabilities.register(
    "marketing.manage_contact_rules",
    label=_("Set the contact cap, quiet hours, topics and suppressed addresses"),
    module=MODULE,
    plans=IN_PLAN,
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
register_open_path("/marketing/t/")

# --- contact pressure (ADR 0033) ---------------------------------------------------------------

navigation.register(
    "contact_rules",
    label=_("Contact rules"),
    icon="shield",
    url_name="marketing:contact_rules",
    capability=MANAGE_CONTACT_RULES,
    order=330,
)

CONTACT_RULES_CHANGED = register_action(
    "marketing.contact_rules_changed", _("Contact rules changed"), module=MODULE
)
TOPIC_CREATED = register_action("marketing.topic_created", _("Topic added"), module=MODULE)
TOPIC_DELETED = register_action("marketing.topic_deleted", _("Topic removed"), module=MODULE)
SUPPRESSION_ADDED = register_action(
    "marketing.suppression_added", _("Address suppressed"), module=MODULE
)

# The unsubscribe, preference and opt-in pages a recipient opens from a message.
RECIPIENT_PATH = register_open_path("/marketing/r/")


def _rules_panel(membership: Membership) -> dict[str, Any]:
    from crm_modules.marketing.contact_rules import rules_panel

    return rules_panel(actor=membership)


def _pressure_panel(membership: Membership, record: Any) -> dict[str, Any]:
    from crm_modules.marketing.contact_rules import contact_pressure_panel

    return contact_pressure_panel(actor=membership, contact=record)


register_settings_panel(
    "marketing.contact_rules",
    template="marketing/_contact_rules.html",
    capability=MANAGE_CONTACT_RULES,
    context=_rules_panel,
    order=200,
)
register_record_panel(
    "marketing.contact_pressure",
    record_type="sales.contact",
    template="marketing/_contact_pressure.html",
    capability=VIEW_CONTACT_PRESSURE,
    context=_pressure_panel,
    order=60,
)

# --- lead capture and attribution (ADR 0035) -------------------------------------------------
# Everyone sees the forms and what they brought in; marketers build them. The attribution
# report shows revenue, so it is for the roles that see the whole pipeline's numbers.
VIEW_FORMS = capabilities.register(
    "marketing.view_forms",
    label=_("See forms and their submissions"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_FORMS = capabilities.register(
    "marketing.manage_forms",
    label=_("Create and change forms"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS,
    writes=True,
)
VIEW_ATTRIBUTION = capabilities.register(
    "marketing.view_attribution",
    label=_("See revenue attributed to campaigns, sources and media"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.READ_ONLY},
)
MANAGE_CAMPAIGN_COSTS = capabilities.register(
    "marketing.manage_campaign_costs",
    label=_("Enter campaign costs and rebuild attribution"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS,
    writes=True,
)

navigation.register(
    "forms",
    label=_("Forms"),
    icon="file-text",
    url_name="marketing:forms",
    capability=VIEW_FORMS,
    order=315,
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

FORM_FILL = register_entry_type("form_fill", label=_("Form filled"))

# The hosted form page, its embed description and the endpoint forms post to: visitors who are
# not members open them; each view checks the form and its signed token itself.
PUBLIC_FORM_PATH = register_open_path("/marketing/f/")

# --- sequences (ADR 0041) ---------------------------------------------------------------------
# Everyone sees sequences and who is in them; marketers build them; those who work with
# contacts (marketers and sales reps too) enrol the contacts they may see.
VIEW_SEQUENCES = capabilities.register(
    "marketing.view_sequences",
    label=_("See sequences, their steps and enrolments"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_SEQUENCES = capabilities.register(
    "marketing.manage_sequences",
    label=_("Create and change sequences and their steps"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS,
    writes=True,
)
ENROL_SEQUENCES = capabilities.register(
    "marketing.enrol_sequences",
    label=_("Enrol contacts in sequences, pause and remove them"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS | {Role.SALES_REP},
    writes=True,
)

navigation.register(
    "sequences",
    label=_("Sequences"),
    icon="send",
    url_name="marketing:sequences",
    capability=VIEW_SEQUENCES,
    order=312,
)

SEQUENCE_CREATED = register_action("sequence.created", _("Sequence created"), module=MODULE)
SEQUENCE_UPDATED = register_action("sequence.updated", _("Sequence changed"), module=MODULE)
SEQUENCE_ENROLLED = register_action(
    "sequence.enrolled", _("Contacts enrolled in a sequence"), module=MODULE
)
SEQUENCE_ENROLMENT_CHANGED = register_action(
    "sequence.enrolment_changed", _("Sequence enrolment paused, resumed or ended"), module=MODULE
)

SEQUENCE_EMAIL = register_entry_type("sequence_email", label=_("Sequence email"))
SEQUENCE_EXIT = register_entry_type("sequence_exit", label=_("Left a sequence"))


def _sequences_panel(membership: Membership, record: Any) -> dict[str, Any]:
    from crm_modules.marketing.sequences.selectors import contact_sequences_panel

    return contact_sequences_panel(actor=membership, contact=record)


register_record_panel(
    "marketing.sequences",
    record_type="sales.contact",
    template="marketing/sequences/_contact_panel.html",
    capability=VIEW_SEQUENCES,
    context=_sequences_panel,
    order=65,
)


def _exit_sequences(events: Any) -> None:
    from crm_modules.marketing.sequences.exits import enrolments_exit_on_events

    enrolments_exit_on_events(events)


register_record_event_listener("marketing.sequences", _exit_sequences)


# --- event triggers and next best offers (ADR 0042) -------------------------------------------

VIEW_TRIGGERS = capabilities.register(
    "marketing.view_triggers",
    label=_("See event-trigger rules and what they did"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_TRIGGERS = capabilities.register(
    "marketing.manage_triggers",
    label=_("Create and change event-trigger rules"),
    module=MODULE,
    # Trigger rules are workflow automation (ADR 0078): the plan needs both.
    plans=IN_PLAN & plans_with(Feature.AUTOMATION),
    roles=MARKETERS,
    writes=True,
)
VIEW_OFFERS = capabilities.register(
    "marketing.view_offers",
    label=_("See a contact's next best offers"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)

navigation.register(
    "triggers",
    label=_("Triggers"),
    icon="bell",
    url_name="marketing:triggers",
    capability=VIEW_TRIGGERS,
    order=325,
)

TRIGGER_CREATED = register_action("trigger.created", _("Trigger rule created"), module=MODULE)
TRIGGER_CHANGED = register_action("trigger.changed", _("Trigger rule changed"), module=MODULE)
TRIGGER_FIRED = register_entry_type("trigger_fired", label=_("Automation ran"))
FORM_SUBMITTED_EVENT = register_record_event_kind(
    "marketing.form_submitted", label=_("Form submitted"), keys=("form",)
)


def _hear(events: Any) -> None:
    from crm_modules.marketing.triggers.engine import hear

    hear(events)


register_record_event_listener("marketing.triggers", _hear)


def _offers_panel(membership: Membership, record: Any) -> dict[str, Any]:
    from crm_modules.marketing.offers import offers_panel

    return offers_panel(actor=membership, contact=record)


register_record_panel(
    "marketing.next_best_offer",
    record_type="sales.contact",
    template="marketing/_next_best_offer.html",
    capability=VIEW_OFFERS,
    context=_offers_panel,
    order=65,
)

# --- deliverability (ADR 0043) -----------------------------------------------------------------
ADMINS = {Role.OWNER, Role.ADMIN}
VIEW_DELIVERABILITY = capabilities.register(
    "marketing.view_deliverability",
    label=_("See sender domains, their DNS records and check them"),
    module=MODULE,
    plans=IN_PLAN,
    roles=MARKETERS,
)
MANAGE_DELIVERABILITY = capabilities.register(
    "marketing.manage_deliverability",
    label=_("Add sender domains, see the bounce webhook secret and resume paused sending"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ADMINS,
    writes=True,
)

navigation.register(
    "deliverability",
    label=_("Deliverability"),
    icon="shield",
    url_name="marketing:sender_domains",
    capability=VIEW_DELIVERABILITY,
    order=335,
)

SENDER_DOMAIN_ADDED = register_action(
    "marketing.sender_domain_added", _("Sender domain added"), module=MODULE
)
SENDER_DOMAIN_REMOVED = register_action(
    "marketing.sender_domain_removed", _("Sender domain removed"), module=MODULE
)
SENDER_DOMAIN_VERIFIED = register_action(
    "marketing.sender_domain_verified", _("Sender domain verified"), module=MODULE
)
BULK_SENDING_PAUSED = register_action(
    "marketing.bulk_sending_paused", _("Bulk sending paused"), module=MODULE
)
BULK_SENDING_RESUMED = register_action(
    "marketing.bulk_sending_resumed", _("Bulk sending resumed"), module=MODULE
)
WEBHOOK_SECRET_ROTATED = register_action(
    "marketing.webhook_secret_rotated", _("Bounce webhook secret replaced"), module=MODULE
)

# Mail providers post bounces and complaints here; each view checks the workspace's secret.
WEBHOOK_PATH = register_open_path("/marketing/hooks/")

from crm_modules.marketing import reports  # noqa: E402, F401
from crm_modules.marketing.sequences import tasks as sequence_tasks  # noqa: E402, F401


def _resume_after_plan_change(tenant: Tenant) -> None:
    # Campaigns held by the plan go on once it includes marketing (ADR 0081).
    from django_tenants.utils import schema_context

    from crm_modules.marketing.campaigns.tasks import resume_held_campaigns
    from crm_modules.marketing.plan import marketing_in_plan

    if marketing_in_plan(tenant):
        with schema_context(tenant.schema_name):
            resume_held_campaigns.delay()


billing_plans.on_plan_change(_resume_after_plan_change)
