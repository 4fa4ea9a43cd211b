"""Two sweeps running at the same moment over the same due enrolments: every step is sent
exactly once (the claim with SKIP LOCKED and the unique run row). Runs real concurrent
transactions on the committed test workspace and removes what it made."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep, StepRun
from crm_modules.marketing.sequences import running
from crm_modules.sales.api import Contact
from tests.concurrency import race
from tests.conftest import World
from tests.marketing.conftest import Sink, committed_open_contact_rules
from tests.sales.factories import ContactFactory

T0 = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=datetime.UTC)
CONTACTS = 30
SWEEPS = 2


def test_two_concurrent_sweeps_send_each_step_exactly_once(
    world: World, django_db_blocker: Any, smtp_sink: Sink
) -> None:
    schema = world.alpha.tenant.schema_name
    with django_db_blocker.unblock(), committed_open_contact_rules(schema), schema_context(schema):
        sequence = Sequence.objects.create(name="Race", status=Sequence.Status.ACTIVE)
        SequenceStep.objects.create(
            sequence=sequence,
            position=1,
            kind="email",
            delay_amount=0,
            delay_unit="hours",
            subject="Hi {{ first_name }}",
            body="<p>Hello</p>",
        )
        contacts = [
            ContactFactory.create(primary_email=f"race{i}@example.com") for i in range(CONTACTS)
        ]
        Enrolment.objects.bulk_create(
            Enrolment(sequence=sequence, contact=c, due_at=T0, anchor_at=T0) for c in contacts
        )
        try:
            outcomes = _race(schema)
            assert Counter(smtp_sink.to()) == Counter(
                {f"race{i}@example.com": 1 for i in range(CONTACTS)}
            )
            assert StepRun.objects.filter(enrolment__sequence=sequence).count() == CONTACTS
            assert sum(o.get("sent", 0) for o in outcomes) == CONTACTS
            assert set(
                Enrolment.objects.filter(sequence=sequence).values_list("state", flat=True)
            ) == {Enrolment.State.FINISHED}
        finally:
            sequence.delete()
            Contact.objects.filter(pk__in=[c.pk for c in contacts]).delete()


def _race(schema: str) -> list[dict[str, int]]:
    def sweep(go: Callable[[], object]) -> dict[str, int]:
        go()
        total: dict[str, int] = {}
        # Small batches, so the two sweeps interleave over the same due rows.
        while True:
            done = running.sequences_run_due(now=T0, limit=3)
            if not done:
                break
            for key, count in done.items():
                total[key] = total.get(key, 0) + count
        return total

    return race([sweep] * SWEEPS, schema=schema)
