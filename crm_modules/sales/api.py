"""The sales facade: what other modules (service, marketing, reporting) may use.

Reads go through selectors (already scoped to the acting member); writes through services.
"""

from __future__ import annotations

from crm_modules.sales.custom_forms import (
    custom_columns,
    custom_rows,
    labelled,
    new_custom_rows,
    posted_custom,
)
from crm_modules.sales.demo import demo_seed
from crm_modules.sales.filters import LIST_ENTITIES, list_for
from crm_modules.sales.filters import PARAMETERS as LIST_PARAMETERS
from crm_modules.sales.keyset import Page, keyset_page
from crm_modules.sales.models import (
    Channel,
    Company,
    Consent,
    Contact,
    ContactEmail,
    ContactPhone,
    CustomField,
    Deal,
    DealStageChange,
    Lead,
    LifecycleStage,
    Pipeline,
    Stage,
    Task,
)
from crm_modules.sales.module import (
    CREATE_RECORDS,
    DEALS_TOPIC,
    EDIT_RECORDS,
    LIFECYCLE_EVENT,
    MANAGE_CUSTOM_FIELDS,
    VIEW_RECORDS,
)
from crm_modules.sales.reports import custom_report_fields
from crm_modules.sales.selectors import (
    company_get,
    company_list,
    contact_get,
    contact_list,
    custom_field_list,
    deal_get,
    deal_list,
)
from crm_modules.sales.services import (
    check_custom_values,
    company_update,
    contact_consent_by_recipient,
    contact_self_correct,
    contact_update,
    custom_field_create,
    deal_move_stage,
    deal_update,
    lead_create,
    lead_update,
    record_log_activity,
    task_create,
)
from crm_modules.sales.services.bulk_import import (
    CompanyDraft,
    ContactDraft,
    companies_bulk_create,
    company_check_draft,
    contact_check_draft,
    contacts_bulk_create,
    records_bulk_delete,
)
from crm_modules.sales.services.bulk_import_pipeline import (
    LEAD_IMPORT_STATUSES,
    DealDraft,
    LeadDraft,
    deal_check_draft,
    deals_bulk_create,
    lead_check_draft,
    leads_bulk_create,
)
from crm_modules.sales.services.contacts import contact_for_email
from crm_modules.sales.services.duplicates import (
    company_duplicates,
    contact_duplicates,
    contact_name_key,
)
from crm_modules.sales.services.reminders import mentioned_members, mentions_notify
from crm_modules.sales.services.scores import (
    register_score_explainer,
    register_score_listener,
    score_explanation,
    score_threshold_reached,
    scored_ids,
    scores_store,
)
from crm_modules.sales.services.touches import TOUCH_KEYS, record_touch

__all__ = [
    "CREATE_RECORDS",
    "DEALS_TOPIC",
    "EDIT_RECORDS",
    "LEAD_IMPORT_STATUSES",
    "LIFECYCLE_EVENT",
    "LIST_ENTITIES",
    "LIST_PARAMETERS",
    "MANAGE_CUSTOM_FIELDS",
    "TOUCH_KEYS",
    "VIEW_RECORDS",
    "Channel",
    "Company",
    "CompanyDraft",
    "Consent",
    "Contact",
    "ContactDraft",
    "ContactEmail",
    "ContactPhone",
    "CustomField",
    "Deal",
    "DealDraft",
    "DealStageChange",
    "Lead",
    "LeadDraft",
    "LifecycleStage",
    "Page",
    "Pipeline",
    "Stage",
    "Task",
    "check_custom_values",
    "companies_bulk_create",
    "company_check_draft",
    "company_duplicates",
    "company_get",
    "company_list",
    "company_update",
    "contact_check_draft",
    "contact_consent_by_recipient",
    "contact_duplicates",
    "contact_for_email",
    "contact_get",
    "contact_list",
    "contact_name_key",
    "contact_self_correct",
    "contact_update",
    "contacts_bulk_create",
    "custom_columns",
    "custom_field_create",
    "custom_field_list",
    "custom_report_fields",
    "custom_rows",
    "deal_check_draft",
    "deal_get",
    "deal_list",
    "deal_move_stage",
    "deal_update",
    "deals_bulk_create",
    "demo_seed",
    "keyset_page",
    "labelled",
    "lead_check_draft",
    "lead_create",
    "lead_update",
    "leads_bulk_create",
    "list_for",
    "mentioned_members",
    "mentions_notify",
    "new_custom_rows",
    "posted_custom",
    "record_log_activity",
    "record_touch",
    "records_bulk_delete",
    "register_score_explainer",
    "register_score_listener",
    "score_explanation",
    "score_threshold_reached",
    "scored_ids",
    "scores_store",
    "task_create",
]
