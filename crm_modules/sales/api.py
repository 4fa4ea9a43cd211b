"""The sales facade: what other modules (service, marketing, reporting) may use.

Reads go through selectors (already scoped to the acting member); writes through services.
"""

from __future__ import annotations

from crm_modules.sales.demo import demo_seed
from crm_modules.sales.models import (
    Company,
    Consent,
    Contact,
    CustomField,
    Deal,
    DealStageChange,
    Lead,
    LifecycleStage,
    Stage,
    Task,
)
from crm_modules.sales.module import DEALS_TOPIC, VIEW_RECORDS
from crm_modules.sales.selectors import (
    company_get,
    company_list,
    contact_get,
    contact_list,
    deal_get,
    deal_list,
)
from crm_modules.sales.services import record_log_activity
from crm_modules.sales.services.duplicates import company_duplicates, contact_duplicates
from crm_modules.sales.services.scores import (
    register_score_explainer,
    register_score_listener,
    score_explanation,
    score_threshold_reached,
    scored_ids,
    scores_store,
)

__all__ = [
    "DEALS_TOPIC",
    "VIEW_RECORDS",
    "Company",
    "Consent",
    "Contact",
    "CustomField",
    "Deal",
    "DealStageChange",
    "Lead",
    "LifecycleStage",
    "Stage",
    "Task",
    "company_duplicates",
    "company_get",
    "company_list",
    "contact_duplicates",
    "contact_get",
    "contact_list",
    "deal_get",
    "deal_list",
    "demo_seed",
    "record_log_activity",
    "register_score_explainer",
    "register_score_listener",
    "score_explanation",
    "score_threshold_reached",
    "scored_ids",
    "scores_store",
]
