"""Service writes, by concern: ``tickets`` (open, reply, note, status, assign, bulk),
``sla_settings`` (business hours, holidays, SLA targets, escalations), ``sla_policies``
(policies chosen by rules, ADR 0060), ``sla_alerts`` (the
sweep), ``routing`` (rules, team methods, agents, the queue), ``macros`` and ``merge`` (merge
and split)."""

from crm_modules.service.services.sla_policies import (
    sla_policy_delete,
    sla_policy_move,
    sla_policy_save,
)
from crm_modules.service.services.sla_settings import (
    business_hours_update,
    sla_escalation_add,
    sla_escalation_delete,
    sla_targets_update,
)
from crm_modules.service.services.tickets import (
    MAX_BULK,
    NewerMessages,
    ticket_assign,
    ticket_change_status,
    ticket_create,
    ticket_reply,
    ticket_update,
    tickets_bulk,
)

__all__ = [
    "MAX_BULK",
    "NewerMessages",
    "business_hours_update",
    "sla_escalation_add",
    "sla_escalation_delete",
    "sla_policy_delete",
    "sla_policy_move",
    "sla_policy_save",
    "sla_targets_update",
    "ticket_assign",
    "ticket_change_status",
    "ticket_create",
    "ticket_reply",
    "ticket_update",
    "tickets_bulk",
]
