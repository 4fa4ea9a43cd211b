"""What sales adds to the product's registries. Who may do what (docs/roles.md, ADR 0010):

- Everyone in the workspace sees every sales record (the team shares one customer history),
  unless the workspace restricts Sales reps to the records they or their team own.
- Owner and Admin edit, delete and reassign everything; a Manager the records of their team;
  a Sales rep creates records and edits the records they own, never deletes or reassigns.
- A Marketer edits marketing fields (tags, consent, lifecycle stage) on any contact.
- A Support agent reads and logs activities; Read-only reads.
- Tasks belong to their assignee: a rep or an agent works their own, a manager their team's.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _

from billing.plans import Limit, register_usage
from crm_modules.activities.api import LOG_ACTIVITY
from tenants import capabilities, live, navigation, palette
from tenants.audit.actions import register_action
from tenants.capabilities import Scope
from tenants.models import Membership, Tenant
from tenants.modules import (
    register_demo_seeder,
    register_home_panel,
    register_record_event_kind,
    register_settings_panel,
)
from tenants.roles import ALL_ROLES, Role

MODULE = _("Sales")
SELLERS = {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP}

VIEW_RECORDS = capabilities.register(
    "sales.view_records",
    label=_("See companies, contacts, leads, deals and tasks"),
    module=MODULE,
    roles=ALL_ROLES,
    # The workspace setting "Sales reps see only their own records": a rep then reaches the
    # records they or their team own, in every channel that reads through the selectors.
    restricted_scopes={Role.SALES_REP: Scope.TEAM},
)
CREATE_RECORDS = capabilities.register(
    "sales.create_records",
    label=_("Create companies, contacts, leads and deals"),
    module=MODULE,
    roles=SELLERS,
    writes=True,
)
EDIT_RECORDS = capabilities.register(
    "sales.edit_records",
    label=_("Edit companies, contacts, leads and deals, move deals, convert leads"),
    module=MODULE,
    roles=SELLERS,
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM, Role.SALES_REP: Scope.OWN},
)
EDIT_MARKETING = capabilities.register(
    "sales.edit_marketing_fields",
    label=_("Edit tags, consent and lifecycle stage of contacts"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP, Role.MARKETER},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM, Role.SALES_REP: Scope.OWN},
)
DELETE_RECORDS = capabilities.register(
    "sales.delete_records",
    label=_("Delete companies, contacts, leads and deals"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM},
)
REASSIGN_RECORDS = capabilities.register(
    "sales.reassign_records",
    label=_("Give sales records and tasks to another member"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM},
)
MANAGE_PIPELINES = capabilities.register(
    "sales.manage_pipelines",
    label=_("Create and change pipelines and their stages"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
SHARE_VIEWS = capabilities.register(
    "sales.share_views",
    label=_("Share saved list views with the workspace"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)
MANAGE_PRODUCTS = capabilities.register(
    "sales.manage_products",
    label=_("Add and change the products of the catalogue"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)
WORK_TASKS = capabilities.register(
    "sales.work_tasks",
    label=_("Create, edit and complete tasks"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM, Role.SALES_REP: Scope.OWN, Role.SUPPORT_AGENT: Scope.OWN},
)
MANAGE_CUSTOM_FIELDS = capabilities.register(
    "sales.manage_custom_fields",
    label=_("Define custom fields of contacts, companies, deals and tickets"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
MERGE_RECORDS = capabilities.register(
    "sales.merge_records",
    label=_("Merge duplicate contacts and companies, and undo a merge"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
    scopes={Role.MANAGER: Scope.TEAM},
)
FIND_DUPLICATES = capabilities.register(
    "sales.find_duplicates",
    label=_("Scan the workspace for duplicate contacts and companies"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)

navigation.register(
    "contacts",
    label=_("Contacts"),
    icon="users",
    url_name="sales:contact_list",
    capability=VIEW_RECORDS,
    order=100,
)
navigation.register(
    "companies",
    label=_("Companies"),
    icon="building",
    url_name="sales:company_list",
    capability=VIEW_RECORDS,
    order=110,
)
navigation.register(
    "deals",
    label=_("Deals"),
    icon="kanban",
    url_name="sales:deal_board",
    capability=VIEW_RECORDS,
    order=120,
)
navigation.register(
    "leads",
    label=_("Leads"),
    icon="inbox",
    url_name="sales:lead_list",
    capability=VIEW_RECORDS,
    order=130,
)
navigation.register(
    "tasks",
    label=_("Tasks"),
    icon="check",
    url_name="sales:task_list",
    capability=VIEW_RECORDS,
    order=140,
)

navigation.register(
    "products",
    label=_("Products"),
    icon="package",
    url_name="sales:product_list",
    capability=VIEW_RECORDS,
    order=125,
)
navigation.register(
    "duplicates",
    label=_("Duplicates"),
    icon="copy",
    url_name="sales:duplicates",
    capability=FIND_DUPLICATES,
    order=150,
)
navigation.register(
    "search",
    label=_("Search"),
    icon="search",
    url_name="sales:search",
    capability=VIEW_RECORDS,
    order=99,
)

palette.register_search(url_name="sales:search", capability=VIEW_RECORDS)
palette.register(
    "new_contact",
    label=_("New contact"),
    url_name="sales:contact_new",
    capability=CREATE_RECORDS,
    order=10,
)
palette.register(
    "new_company",
    label=_("New company"),
    url_name="sales:company_new",
    capability=CREATE_RECORDS,
    order=20,
)
palette.register(
    "new_deal",
    label=_("New deal"),
    url_name="sales:deal_new",
    capability=CREATE_RECORDS,
    order=30,
)
palette.register(
    "new_task", label=_("New task"), url_name="sales:task_new", capability=WORK_TASKS, order=40
)


# On a record page the palette opens that page's log form; elsewhere it asks for a contact.
palette.register(
    "log_call",
    label=_("Log a call"),
    url_name="sales:search",
    capability=LOG_ACTIVITY,
    order=50,
    mode="pick_contact",
    anchor="log-call",
)

COMPANY_CREATED = register_action("company.created", _("Company created"), module=MODULE)
COMPANY_UPDATED = register_action("company.updated", _("Company changed"), module=MODULE)
COMPANY_DELETED = register_action("company.deleted", _("Company deleted"), module=MODULE)
CONTACT_CREATED = register_action("contact.created", _("Contact created"), module=MODULE)
CONTACT_UPDATED = register_action("contact.updated", _("Contact changed"), module=MODULE)
CONTACT_DELETED = register_action("contact.deleted", _("Contact deleted"), module=MODULE)
CONTACT_MOVED = register_action("contact.moved", _("Contact moved to a company"), module=MODULE)
CONSENT_RECORDED = register_action("consent.recorded", _("Consent recorded"), module=MODULE)
LEAD_CREATED = register_action("lead.created", _("Lead created"), module=MODULE)
LEAD_UPDATED = register_action("lead.updated", _("Lead changed"), module=MODULE)
LEAD_DELETED = register_action("lead.deleted", _("Lead deleted"), module=MODULE)
LEAD_CONVERTED = register_action("lead.converted", _("Lead converted"), module=MODULE)
PIPELINE_CREATED = register_action("pipeline.created", _("Pipeline created"), module=MODULE)
PIPELINE_UPDATED = register_action("pipeline.updated", _("Pipeline changed"), module=MODULE)
PIPELINE_ARCHIVED = register_action("pipeline.archived", _("Pipeline archived"), module=MODULE)
PIPELINE_RESTORED = register_action("pipeline.restored", _("Pipeline restored"), module=MODULE)
STAGE_CREATED = register_action("stage.created", _("Stage added"), module=MODULE)
STAGE_UPDATED = register_action("stage.updated", _("Stage changed"), module=MODULE)
STAGE_DELETED = register_action("stage.deleted", _("Stage deleted"), module=MODULE)
PRODUCT_CREATED = register_action("product.created", _("Product created"), module=MODULE)
PRODUCT_UPDATED = register_action("product.updated", _("Product changed"), module=MODULE)
LINE_ITEMS_CHANGED = register_action(
    "deal.line_items_changed", _("Deal line items changed"), module=MODULE
)
DEAL_CREATED = register_action("deal.created", _("Deal created"), module=MODULE)
DEAL_UPDATED = register_action("deal.updated", _("Deal changed"), module=MODULE)
DEAL_DELETED = register_action("deal.deleted", _("Deal deleted"), module=MODULE)
DEAL_MOVED = register_action("deal.moved", _("Deal moved to another stage"), module=MODULE)
DEAL_WON = register_action("deal.won", _("Deal won"), module=MODULE)
DEAL_LOST = register_action("deal.lost", _("Deal lost"), module=MODULE)
TASK_CREATED = register_action("task.created", _("Task created"), module=MODULE)
TASK_UPDATED = register_action("task.updated", _("Task changed"), module=MODULE)
TASK_DELETED = register_action("task.deleted", _("Task deleted"), module=MODULE)
TASK_COMPLETED = register_action("task.completed", _("Task completed"), module=MODULE)

CUSTOM_FIELD_CREATED = register_action(
    "custom_field.created", _("Custom field created"), module=MODULE
)
CUSTOM_FIELD_DELETED = register_action(
    "custom_field.deleted", _("Custom field deleted"), module=MODULE
)
CUSTOM_FIELD_UPDATED = register_action(
    "custom_field.updated", _("Custom field changed"), module=MODULE
)
CUSTOM_FIELD_ARCHIVED = register_action(
    "custom_field.archived", _("Custom field archived"), module=MODULE
)
CUSTOM_FIELD_RESTORED = register_action(
    "custom_field.restored", _("Custom field restored"), module=MODULE
)
CONTACTS_MERGED = register_action("contact.merged", _("Contacts merged"), module=MODULE)
COMPANIES_MERGED = register_action("company.merged", _("Companies merged"), module=MODULE)
MERGE_UNDONE = register_action("merge.undone", _("Merge undone"), module=MODULE)
DUPLICATES_SCANNED = register_action(
    "duplicates.scanned", _("Duplicates scan started"), module=MODULE
)

DEALS_TOPIC = live.register_topic("deals", label=_("Deals"), capability=VIEW_RECORDS)
ACTIVITIES_TOPIC = live.register_topic("activities", label=_("Activities"), capability=VIEW_RECORDS)
TASKS_TOPIC = live.register_topic("tasks", label=_("Tasks"), capability=VIEW_RECORDS)


def _my_day(membership: Membership) -> dict[str, Any]:
    from crm_modules.sales.selectors import my_day

    return my_day(actor=membership)


register_home_panel(
    "sales.my_day", template="sales/_my_day.html", capability=VIEW_RECORDS, context=_my_day
)


def _pipeline_glance(membership: Membership) -> dict[str, Any]:
    from crm_modules.sales.selectors import pipeline_glance

    return {"glance": pipeline_glance(actor=membership)}


register_home_panel(
    "sales.pipeline_glance",
    template="sales/_pipeline_glance.html",
    capability=VIEW_RECORDS,
    context=_pipeline_glance,
    order=110,
)


def _custom_field_counts(membership: Membership) -> dict[str, Any]:
    from crm_modules.sales.selectors import custom_field_counts

    return {"counts": custom_field_counts(actor=membership)}


# The workspace settings page leads to the custom fields page (sales/custom-fields/).
register_settings_panel(
    "sales.custom_fields",
    template="sales/_settings_custom_fields.html",
    capability=MANAGE_CUSTOM_FIELDS,
    context=_custom_field_counts,
    order=50,
)


def _seed_demo(*, tenant: Tenant) -> None:
    from crm_modules.sales.demo import demo_seed

    demo_seed(tenant=tenant)


register_demo_seeder(_seed_demo)


def _pipelines_in_use(tenant: Tenant) -> int:
    """The pipelines a plan's pipeline limit counts: the ones not archived."""
    from django_tenants.utils import schema_context

    from crm_modules.sales.models import Pipeline

    with schema_context(tenant.schema_name):
        return Pipeline.objects.filter(archived_at__isnull=True).count()


register_usage(Limit.PIPELINES, _pipelines_in_use)


def _register_attachables() -> None:
    from crm_modules.documents.api import register_attachable
    from crm_modules.sales.models import Company, Contact, Deal, Lead

    # Linking a document changes the record: who may edit it may. A contact also takes them
    # from those who edit its marketing fields (a signed consent form, a campaign brief).
    for key, model, label, edit in (
        ("sales.company", Company, _("Company"), EDIT_RECORDS),
        ("sales.contact", Contact, _("Contact"), EDIT_MARKETING),
        ("sales.lead", Lead, _("Lead"), EDIT_RECORDS),
        ("sales.deal", Deal, _("Deal"), EDIT_RECORDS),
    ):
        register_attachable(
            key,
            model,
            label,
            VIEW_RECORDS,
            search=_record_search(model),
            capability_to_edit=edit,
        )


def _record_search(model: Any) -> Any:
    def search(actor: Membership, text: str) -> Any:
        from crm_modules.sales.selectors import record_search

        return record_search(model=model, actor=actor, q=text)

    return search


# Documents attach to every sales record by the record's model label (the timeline's link key).
_register_attachables()

# What happens to a contact that other modules may react to (marketing's event triggers).
DEAL_WON_EVENT = register_record_event_kind("sales.deal_won", label=_("Deal won"))
TAG_ADDED_EVENT = register_record_event_kind("sales.tag_added", label=_("Tag added"), keys=("tag",))
LIFECYCLE_EVENT = register_record_event_kind(
    "sales.lifecycle_changed", label=_("Lifecycle stage changed"), keys=("to",)
)
FIELD_CHANGED_EVENT = register_record_event_kind(
    "sales.field_changed", label=_("Field changed"), keys=("field",)
)

# Sales records as report data sources (registered once the names above exist).
from crm_modules.sales import reports  # noqa: E402, F401
