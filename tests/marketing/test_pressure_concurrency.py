"""Senders deciding at the same moment for one contact: the per-contact lock lets exactly as
many through as the cap has free slots. Runs real concurrent transactions on the committed
test workspace and removes what it made."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django_tenants.utils import schema_context

from crm_modules.marketing.api import Purpose, may_contact, record_contact
from crm_modules.marketing.models import ContactTouch, PressureSettings
from tests.concurrency import race
from tests.conftest import World
from tests.sales.factories import ContactFactory

NOON = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=datetime.UTC)
SENDERS = 4


def test_concurrent_senders_never_both_take_the_last_slot(
    world: World, django_db_blocker: Any
) -> None:
    schema = world.alpha.tenant.schema_name
    with django_db_blocker.unblock(), schema_context(schema):
        PressureSettings.objects.update_or_create(
            pk=1,
            defaults={
                "cap_messages": 3,
                "cap_days": 7,
                "quiet_start": datetime.time(0),
                "quiet_end": datetime.time(0),
                "cap_scope": "overall",
            },
        )
        contact = ContactFactory.create(primary_email="race@example.com")
        try:
            # Two of three slots are taken: one is left for four senders.
            for days in (1, 2):
                record_contact(
                    contact,
                    channel="email",
                    purpose=Purpose.TRANSACTIONAL,
                    source="receipt:1",
                    at=NOON - datetime.timedelta(days=days),
                )
            outcomes = _race(schema, contact.pk)
            assert sorted(outcomes) == ["cap_reached"] * (SENDERS - 1) + ["ok"]
            assert ContactTouch.objects.filter(contact_id=contact.pk).count() == 3
            assert (
                ContactTouch.objects.filter(contact_id=contact.pk, purpose="marketing").count() == 1
            )
        finally:
            contact.delete()
            PressureSettings.objects.filter(pk=1).delete()


def _race(schema: str, contact_id: int) -> list[str]:
    def sender(number: int) -> Callable[[Callable[[], object]], str]:
        def send(go: Callable[[], object]) -> str:
            from crm_modules.sales.api import Contact

            contact = Contact.objects.get(pk=contact_id)
            go()
            with transaction.atomic():
                decision = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
                if decision.allowed:
                    record_contact(
                        contact,
                        channel="email",
                        purpose=Purpose.MARKETING,
                        source=f"campaign:{number}",
                        at=NOON,
                    )
            return decision.reason

        return send

    return race([sender(n) for n in range(SENDERS)], schema=schema)
