"""Writes of sales records, by concern. Each service takes keyword arguments only, asks the
permission question first, validates (naming the field), locks and checks again, mutates,
audits, and publishes after commit."""

from crm_modules.sales.services.activities import record_log_activity
from crm_modules.sales.services.companies import company_create, company_delete, company_update
from crm_modules.sales.services.contacts import (
    EmailInput,
    contact_consent_by_recipient,
    contact_create,
    contact_delete,
    contact_move_company,
    contact_self_correct,
    contact_set_consent,
    contact_update,
)
from crm_modules.sales.services.custom_fields import (
    check_custom_values,
    check_customer_custom_values,
    custom_field_archive,
    custom_field_create,
    custom_field_delete,
    custom_field_update,
)
from crm_modules.sales.services.deals import (
    StageInput,
    deal_create,
    deal_delete,
    deal_move_stage,
    deal_update,
    pipeline_create,
)
from crm_modules.sales.services.leads import lead_convert, lead_create, lead_delete, lead_update
from crm_modules.sales.services.pipelines import (
    pipeline_archive,
    pipeline_rename,
    stage_add,
    stage_delete,
    stage_move,
    stage_update,
)
from crm_modules.sales.services.products import (
    line_item_add,
    line_item_remove,
    line_item_update,
    product_create,
    product_update,
)
from crm_modules.sales.services.tasks import task_complete, task_create, task_delete, task_update

__all__ = [
    "EmailInput",
    "StageInput",
    "check_custom_values",
    "check_customer_custom_values",
    "company_create",
    "company_delete",
    "company_update",
    "contact_consent_by_recipient",
    "contact_create",
    "contact_delete",
    "contact_move_company",
    "contact_self_correct",
    "contact_set_consent",
    "contact_update",
    "custom_field_archive",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_update",
    "deal_create",
    "deal_delete",
    "deal_move_stage",
    "deal_update",
    "lead_convert",
    "lead_create",
    "lead_delete",
    "lead_update",
    "line_item_add",
    "line_item_remove",
    "line_item_update",
    "pipeline_archive",
    "pipeline_create",
    "pipeline_rename",
    "product_create",
    "product_update",
    "record_log_activity",
    "stage_add",
    "stage_delete",
    "stage_move",
    "stage_update",
    "task_complete",
    "task_create",
    "task_delete",
    "task_update",
]
