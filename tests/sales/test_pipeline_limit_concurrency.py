"""The plan's pipeline limit under real concurrent transactions: two owners of a Starter
workspace (one active pipeline allowed, none yet) add a pipeline at the same moment, each in a
transaction of its own on a connection of its own. Exactly one is added; the other is refused
naming the limit. Runs on the committed test workspaces and removes what it made.

Both transactions are held just after their limit check until the other one has either passed
its own check too or is waiting for the workspace's pipelines lock: without the lock both pass
the check (both count none) and both pipelines are added, so this test fails; with it the
second waits for the first to commit and then counts its pipeline."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from crm_modules.sales import services
from crm_modules.sales.models import Pipeline
from crm_modules.sales.services import deals
from crm_modules.sales.services.deals import StageInput
from crm_modules.sales.services.pipelines import check_pipeline_limit
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Plan, Tenant
from tests.concurrency import race
from tests.conftest import World
from tests.sales.conftest import fresh

STAGES = [StageInput(name="New", probability=10), StageInput("Won", 100, kind="won")]
# How long a thread waits for the other to reach the point of the race before the test gives
# up (a broken test, not a measure of speed).
GIVE_UP_AFTER = 60.0


def _someone_waits_for_an_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        (waiting,) = cursor.fetchone()
    return bool(waiting)


class _Rendezvous:
    """Holds each transaction after its limit check until the other has checked too, or is
    seen waiting for the lock (pg_locks, read on a third connection)."""

    def __init__(self) -> None:
        self.checked = 0
        self.condition = threading.Condition()

    def after_check(self) -> None:
        with self.condition:
            self.checked += 1
            self.condition.notify_all()
        waited = 0.0
        while True:
            with self.condition:
                if self.checked >= 2:
                    return
                self.condition.wait(timeout=0.05)
                if self.checked >= 2:
                    return
            if _watch(_someone_waits_for_an_advisory_lock):
                return
            waited += 0.05
            if waited > GIVE_UP_AFTER:
                raise RuntimeError("The other transaction never reached its limit check.")


def _watch(question: Callable[[], bool]) -> bool:
    """Ask on a connection of its own: the calling thread's is inside its transaction."""
    answer: list[bool] = []

    def ask() -> None:
        from django.db import connections

        try:
            answer.append(question())
        finally:
            connections.close_all()

    watcher = threading.Thread(target=ask)
    watcher.start()
    watcher.join()
    return answer[0]


def test_two_owners_adding_a_pipeline_at_once_on_starter_add_exactly_one(
    world: World, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    rendezvous = _Rendezvous()

    def checked_then_held(tenant: Tenant) -> None:
        check_pipeline_limit(tenant)
        rendezvous.after_check()

    monkeypatch.setattr(deals, "check_pipeline_limit", checked_then_held)

    def add(name: str) -> Callable[[Callable[[], object]], str]:
        def run(go: Callable[[], object]) -> str:
            actor = fresh(alpha.owner)
            go()
            try:
                services.pipeline_create(actor=actor, name=name, stages=STAGES)
            except ServiceError as refused:
                return f"refused:{refused.field}:{refused.code}"
            return "added"

        return run

    with django_db_blocker.unblock():
        plan_before = Tenant.objects.get(pk=alpha.tenant.pk).plan
        with schema_context(schema):
            before = set(Pipeline.objects.values_list("pk", flat=True))
            assert not Pipeline.objects.filter(archived_at__isnull=True).exists()
        Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.STARTER)
        try:
            outcomes = race([add("North"), add("South")], schema=schema)
            with schema_context(schema):
                active = list(
                    Pipeline.objects.filter(archived_at__isnull=True).values_list("name", flat=True)
                )
            assert sorted(outcomes) == ["added", "refused:pipeline:plan_limit"]
            assert len(active) == 1
            assert active[0] in {"North", "South"}
        finally:
            Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=plan_before)
            with schema_context(schema):
                made = Pipeline.objects.exclude(pk__in=before)
                AuditEvent.objects.filter(
                    action="pipeline.created",
                    target_id__in=[str(pk) for pk in made.values_list("pk", flat=True)],
                ).delete()
                made.delete()
