"""Workers evaluating the same happening at the same moment, and sweeps running the same due
firing at once: each (rule, contact, occurrence) fires once and its actions run once. Real
concurrent transactions on the committed test workspace; what they made is removed after."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.activities.models import Activity
from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.triggers import engine
from crm_modules.sales.models import Task
from tenants.roles import Role
from tests.concurrency import race
from tests.conftest import World
from tests.sales.factories import ContactFactory

WORKERS = 4


def _rule(owner: Any) -> TriggerRule:
    return TriggerRule.objects.create(
        name="Race",
        definition={
            "when": {"event": "sales.deal_won"},
            "delay_minutes": 0,
            "actions": [{"type": "create_task", "title": "Once only", "due_in_days": 0}],
        },
        listens_to="sales.deal_won",
        run_as=owner.user,
    )


def _clean(rule: TriggerRule, contact: Any) -> None:
    Activity.objects.filter(
        links__target_type="sales.contact", links__target_id=contact.pk
    ).delete()
    Task.objects.filter(contact=contact).delete()
    rule.delete()
    contact.delete()


def _race(schema: str, work: Callable[[int], object]) -> list[object]:
    def worker(number: int) -> Callable[[Callable[[], object]], object]:
        def run(go: Callable[[], object]) -> object:
            go()
            return work(number)

        return run

    return race([worker(n) for n in range(WORKERS)], schema=schema)


def test_concurrent_evaluations_of_one_happening_fire_once(
    world: World, django_db_blocker: Any
) -> None:
    schema = world.alpha.tenant.schema_name
    owner = world.alpha.members[Role.OWNER]
    with django_db_blocker.unblock(), schema_context(schema):
        rule = _rule(owner)
        contact = ContactFactory.create(owner=owner.user)
        try:
            made = _race(
                schema,
                lambda _n: engine.evaluate(
                    kind="sales.deal_won",
                    contact_id=contact.pk,
                    occurrence="deal:race",
                    data={"amount": "1"},
                    chain=[],
                ),
            )
            assert sorted(len(ids) for ids in made) == [0] * (WORKERS - 1) + [1]  # type: ignore[arg-type]
            [firing] = TriggerFiring.objects.filter(rule=rule)
            assert firing.status == TriggerFiring.Status.DONE
            assert Task.objects.filter(contact=contact, title="Once only").count() == 1
        finally:
            _clean(rule, contact)


def test_concurrent_sweeps_run_a_due_firing_once(world: World, django_db_blocker: Any) -> None:
    schema = world.alpha.tenant.schema_name
    owner = world.alpha.members[Role.OWNER]
    with django_db_blocker.unblock(), schema_context(schema):
        rule = _rule(owner)
        contact = ContactFactory.create(owner=owner.user)
        TriggerFiring.objects.create(
            rule=rule,
            contact=contact,
            occurrence="deal:swept",
            due_at=timezone.now() - datetime.timedelta(minutes=1),
        )
        try:
            ran = _race(schema, lambda _n: engine.run_due(now=timezone.now()))
            assert sum(ran) == 1  # type: ignore[arg-type]
            assert Task.objects.filter(contact=contact, title="Once only").count() == 1
        finally:
            _clean(rule, contact)
