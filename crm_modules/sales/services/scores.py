"""Lead scores on contacts and leads. The scoring module (crm_modules/scoring) computes them;
sales stores them on the records (indexed, so lists sort and filter by them) and tells the
scoring module, through listeners it registers, when a record's scoring inputs change.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Expression, Q
from django.utils import timezone

from crm_modules.sales.models import Contact, Lead, LifecycleStage, Task
from crm_modules.sales.services.reminders import task_reminder_alarm

SCORED: dict[str, type[Contact] | type[Lead]] = {"contact": Contact, "lead": Lead}
# A listener is called after commit with the entity and the changed ids (None: every record).
Listener = Callable[[str, list[int] | None], None]
_LISTENERS: list[Listener] = []
Explainer = Callable[[Sequence[Mapping[str, Any]]], list[list[dict[str, Any]]]]
_EXPLAINERS: list[Explainer] = []


def register_score_listener(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def register_score_explainer(explainer: Explainer) -> None:
    """How records' ``score_breakdown`` (points by rule id) are told in words: given many
    breakdowns, each one's rows, so a page of a list is explained at once."""
    _EXPLAINERS[:] = [explainer]


def score_explanations(records: Sequence[Contact | Lead]) -> list[list[dict[str, Any]]]:
    """For each record, each rule that gave it points, with its name and points, most first."""
    breakdowns = [dict(record.score_breakdown or {}) for record in records]
    if _EXPLAINERS:
        return _EXPLAINERS[0](breakdowns)
    return [
        [{"rule": int(key), "name": key, "points": points} for key, points in breakdown.items()]
        for breakdown in breakdowns
    ]


def score_explanation(record: Contact | Lead) -> list[dict[str, Any]]:
    """Each rule that gave the record points, with its name and points, most first."""
    return score_explanations([record])[0]


def score_inputs_changed(*, entity: str, ids: Iterable[int] | None) -> None:
    """Say, after commit, that these records' scoring inputs changed (None: all records of
    the entity, after a change that touches every one, such as a deleted custom field)."""
    if entity not in SCORED or not _LISTENERS:
        return
    changed = None if ids is None else sorted({int(pk) for pk in ids})
    if changed == []:
        return

    def tell() -> None:
        for listener in _LISTENERS:
            listener(entity, changed)

    transaction.on_commit(tell)


def scores_store(
    *,
    entity: str,
    score: Expression | int,
    breakdown: Expression | dict[str, Any],
    where: Q,
) -> int:
    """One UPDATE: every record of ``entity`` matching ``where`` gets the computed score.
    Records whose score and breakdown are already right are left alone: an UPDATE of an
    indexed column rewrites every index entry of the row, so skipping them is most of the
    work saved when a rule changes a few scores."""
    model = SCORED[entity]
    unchanged = Q(score=score) & Q(score_breakdown=breakdown)
    return (
        model.objects.filter(where)
        .exclude(unchanged)
        .update(score=score, score_breakdown=breakdown)
    )


def scores_store_changes(
    *, entity: str, points: Mapping[int, Expression], where: Q
) -> list[tuple[int, int, int]]:
    """Score the records of ``entity`` matching ``where``: ``points`` holds, by rule id, the
    points each rule gives a record (NULL when it gives none). One statement stores each score
    (the sum) and breakdown (points by rule id) where they changed, and returns (id, score
    before, score after) of every record written. Each rule's condition is evaluated once per
    record (a subquery kept apart by ``OFFSET 0``, which the planner does not merge into the
    sums). The rows are locked by the UPDATE: a concurrent rescoring that already wrote the
    same score finds nothing to change when it re-checks them, so a change is reported once."""
    model = SCORED[entity]
    columns = {int(rule): f"rule_{int(rule)}" for rule in points}
    records = model.objects.filter(where).order_by()
    computed = records.annotate(
        **{columns[int(rule)]: expression for rule, expression in points.items()}
    ).values("pk", "score", *columns.values())
    sql, params = computed.query.sql_with_params()
    # The same condition on the updated table: without it the planner may join the batch to
    # a scan of the whole table.
    where_sql, where_params = records.query.get_compiler(connection=connection).compile(
        records.query.where
    )
    where_sql = where_sql or "TRUE"
    new_score = " + ".join(f"coalesce(p.{column}, 0)" for column in columns.values()) or "0"
    pairs = ", ".join(f"'{rule}', p.{column}" for rule, column in columns.items())
    new_breakdown = f"jsonb_strip_nulls(jsonb_build_object({pairs}))" if pairs else "'{}'::jsonb"
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(["id", "old_score", *columns.values()])
    with transaction.atomic(), connection.cursor() as cursor:
        # Compiling the statement to machine code (JIT) costs seconds a batch, far more than
        # it saves on 20,000 rows.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"UPDATE {table} SET score = c.new_score, score_breakdown = c.new_breakdown"  # noqa: S608 - table, rule ids and column names are ours, values are parameters
            f" FROM (SELECT p.id, p.old_score, {new_score} AS new_score,"
            f" {new_breakdown} AS new_breakdown FROM ({sql} OFFSET 0) AS p ({names})) AS c"
            f" WHERE {table}.id = c.id AND {where_sql}"
            f" AND ({table}.score IS DISTINCT FROM c.new_score"
            f" OR {table}.score_breakdown IS DISTINCT FROM c.new_breakdown)"
            f" RETURNING {table}.id, c.old_score, {table}.score",
            [*params, *where_params],
        )
        return [(int(pk), int(old), int(new)) for pk, old, new in cursor.fetchall()]


def scored_ids(*, entity: str, where: Q) -> list[int]:
    return list(SCORED[entity].objects.filter(where).values_list("pk", flat=True))


_STAGE_ORDER = list(LifecycleStage.values)


def score_threshold_reached(
    *, entity: str, ids: list[int], lifecycle_stage: str, task_title: str
) -> int:
    """Records whose score just reached a threshold: contacts move forward to
    ``lifecycle_stage`` (never back), and each record's owner gets a task to follow up.
    Returns the number of records acted on."""
    if not ids:
        return 0
    model = SCORED[entity]
    now = timezone.now()
    with transaction.atomic():
        records: list[Contact | Lead] = list(
            model.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        )
        if entity == "contact" and lifecycle_stage in _STAGE_ORDER:
            earlier = _STAGE_ORDER[: _STAGE_ORDER.index(lifecycle_stage)]
            Contact.objects.filter(pk__in=ids, lifecycle_stage__in=earlier).update(
                lifecycle_stage=lifecycle_stage, updated_at=now
            )
        if task_title and any(record.owner_id is not None for record in records):
            task_reminder_alarm(now + datetime.timedelta(days=1))
            Task.objects.bulk_create(
                Task(
                    title=task_title[:200],
                    owner_id=record.owner_id,
                    due_at=now + datetime.timedelta(days=1),
                    **{entity: record},
                )
                for record in records
                if record.owner_id is not None
            )
    return len(records)
