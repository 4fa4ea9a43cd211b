"""Lead scoring (ADR 0018): admins' weighted rules, computed set-based in SQL.

Every active rule becomes a SQL condition on the scored table (a field's value, an ``EXISTS``
over the timeline or the consents); one ``UPDATE`` per batch of ids stores each record's
score and its breakdown (points by rule id) through the sales facade. A rule whose field was
deleted since is kept, marked with its problem, and gives no points: never an error.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.plans import Feature, plan_allows
from crm_modules.activities import api as timeline
from crm_modules.sales import api as sales
from crm_modules.scoring.models import Entity, ScoreThreshold, ScoringRule
from crm_modules.scoring.module import (
    MANAGE_RULES,
    MANAGE_THRESHOLDS,
    RULE_CREATED,
    RULE_DELETED,
    RULE_UPDATED,
    SCORE_CHANGED_EVENT,
    SCORES_RECOMPUTED,
    THRESHOLD_CREATED,
    THRESHOLD_DELETED,
)
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.modules import RecordEvent, record_events
from tenants.permissions import require

# A rule's condition becomes one argument pair of jsonb_build_object (at most 100 arguments).
MAX_ACTIVE_RULES = 50
BATCH = 20_000
Op = ScoringRule.Operator
TEXT_OPERATORS = {Op.EQUALS, Op.NOT_EQUALS, Op.IN, Op.CONTAINS, Op.SET, Op.NOT_SET}
NUMBER_OPERATORS = {
    Op.EQUALS, Op.NOT_EQUALS, Op.IN, Op.GREATER, Op.GREATER_EQUAL, Op.LESS, Op.LESS_EQUAL,
    Op.SET, Op.NOT_SET,
}  # fmt: skip
NUMERIC_CUSTOM_TYPES = {"number", "decimal", "date", "datetime"}


@dataclass(frozen=True)
class FieldSpec:
    label: Any
    column: str
    # "text", "tags" or "number"; a "company." field is read through the contact's company.
    type: str = "text"
    on_company: bool = False


FIELDS: dict[str, dict[str, FieldSpec]] = {
    "contact": {
        "lifecycle_stage": FieldSpec(gettext_lazy("Lifecycle stage"), "lifecycle_stage"),
        "job_title": FieldSpec(gettext_lazy("Job title"), "job_title"),
        "source": FieldSpec(gettext_lazy("Source"), "source"),
        "country": FieldSpec(gettext_lazy("Country"), "country"),
        "city": FieldSpec(gettext_lazy("City"), "city"),
        "preferred_channel": FieldSpec(gettext_lazy("Preferred channel"), "preferred_channel"),
        "tags": FieldSpec(gettext_lazy("Tags"), "tags", "tags"),
        "utm_source": FieldSpec(gettext_lazy("Campaign source"), "utm_source"),
        "company.industry": FieldSpec(
            gettext_lazy("Company industry"), "industry", on_company=True
        ),
        "company.size": FieldSpec(gettext_lazy("Company size"), "size", on_company=True),
        "company.country": FieldSpec(gettext_lazy("Company country"), "country", on_company=True),
    },
    "lead": {
        "status": FieldSpec(gettext_lazy("Status"), "status"),
        "source": FieldSpec(gettext_lazy("Source"), "source"),
        "company_name": FieldSpec(gettext_lazy("Company name"), "company_name"),
        "email": FieldSpec(gettext_lazy("Email"), "email"),
    },
}
CUSTOM_PREFIX = "custom."
# The scored records that have custom fields (ADR 0012, ADR 0055).
CUSTOM_ENTITIES = ("contact", "lead")


def field_choices(entity: str) -> list[tuple[str, str]]:
    """Every field a new rule on ``entity`` may test, custom fields included; archived custom
    fields are not offered (rules that test one keep giving points)."""
    choices = [(code, str(spec.label)) for code, spec in FIELDS.get(entity, {}).items()]
    if entity in CUSTOM_ENTITIES:
        choices += [
            (f"{CUSTOM_PREFIX}{field.code}", str(field.label))
            for field in sales.CustomField.objects.filter(entity=entity, archived_at__isnull=True)
        ]
    return choices


def _custom_types(entity: str) -> dict[str, str]:
    if entity not in CUSTOM_ENTITIES:
        return {}
    return dict(sales.CustomField.objects.filter(entity=entity).values_list("code", "type"))


def rule_problem(rule: ScoringRule, custom_types: Mapping[str, str] | None = None) -> str:
    """Why a rule gives no points although it is active ("" when it works)."""
    if rule.kind != ScoringRule.Kind.FIELD:
        return ""
    if rule.field.startswith(CUSTOM_PREFIX):
        types = _custom_types(rule.entity) if custom_types is None else custom_types
        if rule.field.removeprefix(CUSTOM_PREFIX) not in types:
            return _("The field this rule tests was deleted; the rule gives no points.")
        return ""
    if rule.field not in FIELDS.get(rule.entity, {}):
        return _("The field this rule tests no longer exists; the rule gives no points.")
    return ""


# --- validation ---------------------------------------------------------------------------


def _check_int(value: Any, *, field: str, low: int, high: int, label: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ServiceError(_("Enter a whole number."), field=field) from exc
    if not low <= number <= high:
        raise ServiceError(
            _("%(label)s must be between %(low)d and %(high)d.")
            % {"label": label, "low": low, "high": high},
            field=field,
        )
    return number


def _check_rule(data: Mapping[str, Any], *, kept_field: str = "") -> dict[str, Any]:
    """``kept_field``: the field the rule being changed tests, accepted even if archived."""
    entity = data.get("entity", "")
    if entity not in Entity.values:
        raise ServiceError(_("Choose contacts or leads."), field="entity")
    name = str(data.get("name", "") or "").strip()
    if not name or len(name) > 100:
        raise ServiceError(_("Give the rule a name of at most 100 characters."), field="name")
    kind = data.get("kind", "")
    if kind not in ScoringRule.Kind.values:
        raise ServiceError(_("Choose what the rule looks at."), field="kind")
    clean: dict[str, Any] = {
        "entity": entity,
        "name": name,
        "kind": kind,
        "points": _check_int(
            data.get("points"), field="points", low=-1000, high=1000, label=_("Points")
        ),
        "active": bool(data.get("active", True)),
        "field": "",
        "operator": "",
        "value": "",
        "activity_kind": "",
        "direction": "",
        "channel": "",
        "days": None,
    }
    if kind == ScoringRule.Kind.FIELD:
        clean.update(_check_field_condition(entity, data, kept_field))
    elif kind in (ScoringRule.Kind.ENGAGEMENT, ScoringRule.Kind.INACTIVITY):
        clean["days"] = _check_int(
            data.get("days"), field="days", low=1, high=3650, label=_("Days")
        )
        if kind == ScoringRule.Kind.ENGAGEMENT:
            activity_kind = data.get("activity_kind", "") or ""
            if activity_kind and timeline.entry_type(activity_kind) is None:
                raise ServiceError(_("Choose a type of interaction."), field="activity_kind")
            direction = data.get("direction", "") or ""
            if direction not in ("", "inbound", "outbound"):
                raise ServiceError(_("Choose inbound or outbound."), field="direction")
            clean.update(activity_kind=activity_kind, direction=direction)
    else:
        channel = data.get("channel", "") or ""
        if channel not in ("email", "sms", "phone"):
            raise ServiceError(_("Choose a channel."), field="channel")
        clean["channel"] = channel
    return clean


def _check_field_condition(entity: str, data: Mapping[str, Any], kept_field: str) -> dict[str, Any]:
    field = str(data.get("field", "") or "")
    op = data.get("operator", "")
    value = str(data.get("value", "") or "").strip()
    if field.startswith(CUSTOM_PREFIX):
        code = field.removeprefix(CUSTOM_PREFIX)
        custom_type = _custom_types(entity).get(code)
        if custom_type is None:
            raise ServiceError(_("Choose a field from the list."), field="field")
        archived = sales.CustomField.objects.filter(
            entity=entity, code=code, archived_at__isnull=False
        ).exists()
        if archived and field != kept_field:
            raise ServiceError(
                _("This field is archived; restore it to use it in a new rule."), field="field"
            )
        allowed = NUMBER_OPERATORS if custom_type in NUMERIC_CUSTOM_TYPES else TEXT_OPERATORS
    elif field in FIELDS.get(entity, {}):
        allowed = TEXT_OPERATORS
    else:
        raise ServiceError(_("Choose a field from the list."), field="field")
    if op not in allowed:
        raise ServiceError(_("This condition does not apply to this field."), field="operator")
    if op not in (Op.SET, Op.NOT_SET) and not value:
        raise ServiceError(_("Give the value to compare with."), field="value", code="required")
    if len(value) > 200:
        raise ServiceError(_("The value can be at most 200 characters."), field="value")
    if op in (Op.GREATER, Op.GREATER_EQUAL, Op.LESS, Op.LESS_EQUAL) and custom_type in (
        "number",
        "decimal",
    ):
        try:
            decimal.Decimal(value)
        except decimal.InvalidOperation as exc:
            raise ServiceError(_("Enter a number."), field="value") from exc
    return {"field": field, "operator": op, "value": value}


# --- rules and thresholds -----------------------------------------------------------------


def _after_rules_change(entity: str) -> None:
    from crm_modules.scoring.tasks import rescore

    transaction.on_commit(lambda: rescore.apply_async(kwargs={"entity": entity}, queue="bulk"))


def _check_active_limit(entity: str, *, exclude: int | None = None) -> None:
    active = ScoringRule.objects.filter(entity=entity, active=True)
    if exclude is not None:
        active = active.exclude(pk=exclude)
    if active.count() >= MAX_ACTIVE_RULES:
        raise ServiceError(
            _("At most %(count)d rules can be active at once.") % {"count": MAX_ACTIVE_RULES},
            field="active",
        )


def rule_create(*, actor: Membership, data: Mapping[str, Any]) -> ScoringRule:
    require(actor, MANAGE_RULES)
    clean = _check_rule(data)
    with transaction.atomic():
        if clean["active"]:
            _check_active_limit(clean["entity"])
        rule = ScoringRule.objects.create(**clean)
        audit_record(tenant=actor.tenant, actor=actor.user, action=RULE_CREATED, target=rule)
        _after_rules_change(rule.entity)
    return rule


def rule_update(*, actor: Membership, rule: ScoringRule, changes: Mapping[str, Any]) -> ScoringRule:
    require(actor, MANAGE_RULES)
    with transaction.atomic():
        locked = ScoringRule.objects.select_for_update().get(pk=rule.pk)
        current = {
            name: getattr(locked, name)
            for name in (
                "entity", "name", "kind", "field", "operator", "value", "activity_kind",
                "direction", "channel", "days", "points", "active",
            )
        }  # fmt: skip
        if "entity" in changes and changes["entity"] != locked.entity:
            raise ServiceError(_("A rule stays on its kind of record."), field="entity")
        clean = _check_rule({**current, **changes}, kept_field=locked.field)
        if clean["active"] and not locked.active:
            _check_active_limit(locked.entity, exclude=locked.pk)
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.save()
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=RULE_UPDATED,
            target=locked,
            data={"fields": sorted(changes)},
        )
        _after_rules_change(locked.entity)
    return locked


def rule_delete(*, actor: Membership, rule: ScoringRule) -> None:
    require(actor, MANAGE_RULES)
    with transaction.atomic():
        locked = ScoringRule.objects.select_for_update().get(pk=rule.pk)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=RULE_DELETED,
            target_repr=str(locked),
            data={"id": locked.pk, "entity": locked.entity},
        )
        entity = locked.entity
        locked.delete()
        _after_rules_change(entity)


def thresholds_run(tenant: Tenant | None = None) -> bool:
    """Whether thresholds act in the workspace (``tenant``, or the one whose schema is
    current): they are automation, paused on a plan without it."""
    if tenant is None:
        schema: str = connection.schema_name  # type: ignore[attr-defined]
        current = getattr(connection, "tenant", None)
        if isinstance(current, Tenant) and current.pk and current.schema_name == schema:
            tenant = current
        else:
            tenant = Tenant.objects.get(schema_name=schema)
    return plan_allows(tenant, Feature.AUTOMATION)


def threshold_create(*, actor: Membership, data: Mapping[str, Any]) -> ScoreThreshold:
    require(actor, MANAGE_THRESHOLDS)
    entity = data.get("entity", "")
    if entity not in Entity.values:
        raise ServiceError(_("Choose contacts or leads."), field="entity")
    min_score = _check_int(
        data.get("min_score"), field="min_score", low=-100_000, high=100_000, label=_("Score")
    )
    stage = data.get("lifecycle_stage", "") or ""
    if stage and (entity != "contact" or stage not in sales.LifecycleStage.values):
        raise ServiceError(_("Choose a lifecycle stage of contacts."), field="lifecycle_stage")
    title = str(data.get("task_title", "") or "").strip()
    if len(title) > 200:
        raise ServiceError(_("The task title can be at most 200 characters."), field="task_title")
    if not (stage or title):
        raise ServiceError(
            _("Choose a stage to move to, a task to create, or both."),
            field="lifecycle_stage",
            code="required",
        )
    with transaction.atomic():
        threshold = ScoreThreshold.objects.create(
            entity=entity, min_score=min_score, lifecycle_stage=stage, task_title=title
        )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=THRESHOLD_CREATED, target=threshold
        )
    return threshold


def threshold_delete(*, actor: Membership, threshold: ScoreThreshold) -> None:
    require(actor, MANAGE_THRESHOLDS)
    with transaction.atomic():
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=THRESHOLD_DELETED,
            target_repr=str(threshold),
            data={"id": threshold.pk},
        )
        ScoreThreshold.objects.filter(pk=threshold.pk).delete()


# --- computing ----------------------------------------------------------------------------


def _typed(value: str, custom_type: str) -> Any:
    if custom_type in ("number", "decimal"):
        number = decimal.Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    return value


def _field_condition(rule: ScoringRule, custom_types: Mapping[str, str]) -> Q:
    op, value = rule.operator, rule.value
    if rule.field.startswith(CUSTOM_PREFIX):
        code = rule.field.removeprefix(CUSTOM_PREFIX)
        custom_type = custom_types[code]
        path = f"custom__{code}"
        if op in (Op.SET, Op.NOT_SET):
            filled = Q(custom__has_key=code) & ~Q(**{path: ""}) & ~Q(**{f"{path}__isnull": True})
            return filled if op == Op.SET else ~filled
        if op == Op.IN:
            return Q(**{f"{path}__in": [_typed(v.strip(), custom_type) for v in value.split(",")]})
        if op == Op.CONTAINS:
            return Q(**{f"{path}__icontains": value})
        lookup = {"eq": "", "neq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}
        condition = Q(**{f"{path}{lookup[op]}": _typed(value, custom_type)})
        return ~condition if op == Op.NOT_EQUALS else condition
    spec = FIELDS[rule.entity][rule.field]
    column = spec.column
    if op in (Op.SET, Op.NOT_SET):
        filled = ~Q(**{column: []}) if spec.type == "tags" else ~Q(**{column: ""})
        condition = filled if op == Op.SET else ~filled
    elif op == Op.IN:
        condition = Q(**{f"{column}__in": [v.strip() for v in value.split(",") if v.strip()]})
    elif op == Op.CONTAINS:
        if spec.type == "tags":
            condition = Q(**{f"{column}__contains": [value]})
        else:
            condition = Q(**{f"{column}__icontains": value})
    else:
        if spec.type == "tags":
            condition = Q(**{f"{column}__contains": [value]})
        else:
            condition = Q(**{f"{column}__iexact": value})
        if op == Op.NOT_EQUALS:
            condition = ~condition
    if spec.on_company:
        # An UPDATE cannot join: the company's value is read by a correlated EXISTS.
        companies = sales.Company.objects.filter(pk=OuterRef("company_id"))
        return Q(Exists(companies.filter(condition)))
    return condition


def _condition(
    rule: ScoringRule, custom_types: Mapping[str, str], now: datetime.datetime
) -> Q | Exists | None:
    target_type = f"sales.{rule.entity}"
    if rule.kind == ScoringRule.Kind.FIELD:
        if rule_problem(rule, custom_types):
            return None
        return _field_condition(rule, custom_types)
    since = now - datetime.timedelta(days=rule.days or 0)
    if rule.kind == ScoringRule.Kind.ENGAGEMENT:
        return timeline.activity_recent_exists(
            target_type=target_type,
            since=since,
            kind=rule.activity_kind,
            direction=rule.direction,
        )
    if rule.kind == ScoringRule.Kind.INACTIVITY:
        # Decay: a record that has gone quiet (and is old enough to have been heard from).
        quiet = ~timeline.activity_recent_exists(target_type=target_type, since=since)
        return Q(quiet) & Q(created_at__lt=since)
    contact = OuterRef("pk") if rule.entity == "contact" else OuterRef("contact_id")
    return Exists(
        sales.Consent.objects.filter(contact=contact, channel=rule.channel, status="withdrawn")
    )


def rule_points(entity: str, *, now: datetime.datetime | None = None) -> dict[int, Any]:
    """Each active rule of ``entity`` that can give points, by rule id, as a SQL expression:
    its points where the record meets its condition, NULL elsewhere."""
    now = now or timezone.now()
    custom_types = _custom_types(entity)
    points: dict[int, Any] = {}
    for rule in ScoringRule.objects.filter(entity=entity, active=True).order_by("id"):
        condition = _condition(rule, custom_types, now)
        if condition is not None:
            points[rule.pk] = Case(
                When(condition, then=Value(rule.points)),
                default=Value(None),
                output_field=IntegerField(),
            )
    return points


def _batches(entity: str, ids: list[int] | None) -> Iterable[Q]:
    if ids is not None:
        for start in range(0, len(ids), BATCH):
            yield Q(pk__in=ids[start : start + BATCH])
        return
    bounds = sales.Contact if entity == "contact" else sales.Lead
    low_high = bounds.objects.aggregate(low=models.Min("pk"), high=models.Max("pk"))
    if low_high["low"] is None:
        return
    for start in range(low_high["low"], low_high["high"] + 1, BATCH):
        yield Q(pk__gte=start, pk__lt=start + BATCH)


def _announce_score_changes(changes: list[tuple[int, int, int]], stamp: str) -> None:
    """Tell the other modules (event triggers) whose contact score changed in this batch, in
    one announcement for the whole batch."""
    record_events(
        [
            RecordEvent(SCORE_CHANGED_EVENT.code, pk, f"score:{stamp}", {"from": old, "to": new})
            for pk, old, new in sorted(changes)
            if old != new
        ]
    )


def scores_recompute(*, entity: str, ids: Iterable[int] | None = None) -> int:
    """Compute and store the scores of ``ids`` (None: every record of ``entity``), in batches
    of one UPDATE each; records that reach a threshold get its actions (only while the plan
    includes automation, ADR 0078: otherwise the thresholds are paused and a record that
    crosses one meanwhile is not acted on later), and contacts whose score changed are announced
    (``scoring.score_changed``, one announcement a batch). Returns the number of records whose
    score or breakdown changed."""
    if entity not in Entity.values:
        raise ServiceError(_("Choose contacts or leads."), field="entity")
    wanted = None if ids is None else sorted({int(pk) for pk in ids})
    points = rule_points(entity)
    thresholds = list(ScoreThreshold.objects.filter(entity=entity)) if thresholds_run() else []
    total = 0
    stamp = timezone.now().isoformat()
    for where in _batches(entity, wanted):
        with transaction.atomic():
            below = {
                threshold.pk: sales.scored_ids(
                    entity=entity, where=where & Q(score__lt=threshold.min_score)
                )
                for threshold in thresholds
            }
            changes = sales.scores_store_changes(entity=entity, points=points, where=where)
            total += len(changes)
            if entity == "contact" and changes:
                _announce_score_changes(changes, stamp)
            for threshold in thresholds:
                reached = sales.scored_ids(
                    entity=entity,
                    where=Q(pk__in=below[threshold.pk], score__gte=threshold.min_score),
                )
                sales.score_threshold_reached(
                    entity=entity,
                    ids=reached,
                    lifecycle_stage=threshold.lifecycle_stage,
                    task_title=threshold.task_title,
                )
    return total


def scores_recompute_now(*, actor: Membership, entity: str) -> None:
    """An admin asks for every score of ``entity`` to be computed again (in the background)."""
    require(actor, MANAGE_RULES)
    if entity not in Entity.values:
        raise ServiceError(_("Choose contacts or leads."), field="entity")
    with transaction.atomic():
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SCORES_RECOMPUTED, data={"entity": entity}
        )
        _after_rules_change(entity)


def explain(breakdowns: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """For each breakdown, the rules behind it, most points first, a rule deleted since named
    so: one query for the rule names of all of them (a page of a list)."""
    ids = {int(key) for breakdown in breakdowns for key in breakdown if str(key).isdigit()}
    names = dict(ScoringRule.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    deleted = _("A rule deleted since")
    return [
        sorted(
            (
                {"rule": int(key), "name": names.get(int(key), deleted), "points": int(points)}
                for key, points in breakdown.items()
                if str(key).isdigit()
            ),
            key=lambda row: (-abs(row["points"]), row["rule"]),
        )
        for breakdown in breakdowns
    ]
