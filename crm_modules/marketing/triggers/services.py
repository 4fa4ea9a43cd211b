"""Writing trigger rules: check the definition, refuse a loop naming its rules, save, audit."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models_triggers import TriggerRule
from crm_modules.marketing.module import MANAGE_TRIGGERS, TRIGGER_CHANGED, TRIGGER_CREATED
from crm_modules.marketing.triggers.definition import (
    Definition,
    check_definition,
    compile_definition,
    rule_cycle,
    threshold_field_of,
)
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

MAX_RULES = 200


def _check_loop(rule_id: int | None, name: str, definition: Definition) -> None:
    others = {
        pk: (other_name, compile_definition(stored))
        for pk, other_name, stored in TriggerRule.objects.filter(active=True).values_list(
            "pk", "name", "definition"
        )
    }
    cycle = rule_cycle(rule_id=rule_id, name=name, definition=definition, others=others)
    if cycle:
        raise ServiceError(
            _("These rules would set each other off in a loop: %(cycle)s.")
            % {"cycle": " → ".join(cycle)},
            field="definition",
            code="loop",
        )


def trigger_rule_create(
    *, actor: Membership, name: str, definition: Any, active: bool = True
) -> TriggerRule:
    require(actor, MANAGE_TRIGGERS)
    clean_name = check_text(name, field="name", max_length=120, label=_("Name"))
    stored, compiled = check_definition(definition)
    with transaction.atomic():
        if TriggerRule.objects.count() >= MAX_RULES:
            raise ServiceError(
                _("A workspace can have at most %(max)d rules.") % {"max": MAX_RULES},
                field="name",
            )
        if active:
            _lock_rules()
            _check_loop(None, clean_name, compiled)
        rule = TriggerRule.objects.create(
            name=clean_name,
            definition=stored,
            listens_to=compiled.listens_to,
            active=active,
            run_as=actor.user,
        )
        audit_record(tenant=actor.tenant, actor=actor.user, action=TRIGGER_CREATED, target=rule)
    return rule


def _lock_rules() -> None:
    """One rule saved at a time per workspace, so two saves cannot close a loop together."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE marketing_triggerrule IN SHARE ROW EXCLUSIVE MODE")


def trigger_rule_update(
    *,
    actor: Membership,
    rule: TriggerRule,
    name: str | None = None,
    definition: Any = None,
    active: bool | None = None,
) -> TriggerRule:
    """Change a rule; it then runs as ``actor``. Pending firings run the new actions."""
    require(actor, MANAGE_TRIGGERS)
    clean_name = (
        check_text(name, field="name", max_length=120, label=_("Name"))
        if name is not None
        else rule.name
    )
    if definition is not None:
        stored, compiled = check_definition(
            definition, kept_field=threshold_field_of(rule.definition)
        )
    else:
        stored, compiled = rule.definition, compile_definition(rule.definition)
    with transaction.atomic():
        _lock_rules()
        locked = TriggerRule.objects.select_for_update().get(pk=rule.pk)
        will_be_active = locked.active if active is None else active
        if will_be_active:
            _check_loop(locked.pk, clean_name, compiled)
        locked.name = clean_name
        locked.definition = stored
        locked.listens_to = compiled.listens_to
        locked.active = will_be_active
        locked.run_as = actor.user
        locked.updated_at = timezone.now()
        locked.save(
            update_fields=["name", "definition", "listens_to", "active", "run_as", "updated_at"]
        )
        audit_record(tenant=actor.tenant, actor=actor.user, action=TRIGGER_CHANGED, target=locked)
    return locked
