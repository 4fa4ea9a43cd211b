"""A marketer's path in a real browser, at phone width with touch: build a dynamic segment from
the segments page and see its live count and members. Screenshots of the segment builder and
the segment at 375 and 1280 px."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tenants.models import Membership, UserSession
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page
from tests.sales.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make(world: World) -> list[int]:
    with schema_context(world.alpha.tenant.schema_name):
        return [
            ContactFactory.create(first_name="Giulia", lifecycle_stage="customer").pk,
            ContactFactory.create(first_name="Marco", lifecycle_stage="customer").pk,
            ContactFactory.create(first_name="Luca", lifecycle_stage="lead").pk,
        ]


def _segments(world: World) -> list[tuple[str, str]]:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.marketing.models import Segment

        return list(Segment.objects.values_list("name", "kind"))


def _clean_up(world: World, contacts: list[int], sessions: set[str], last_seen: Any) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.marketing.models import Segment
        from crm_modules.sales.models import Contact
        from tenants.audit.models import AuditEvent

        Segment.objects.all().delete()
        Contact.objects.filter(pk__in=contacts).delete()
        AuditEvent.objects.filter(action__startswith="segment.").delete()
    UserSession.objects.exclude(session_key__in=sessions).delete()
    Membership.objects.filter(pk=world.alpha.owner.pk).update(last_seen_at=last_seen)


@pytest.fixture
def contacts(world: World, live_site: LiveSite) -> Iterator[list[int]]:
    sessions = orm(lambda: set(UserSession.objects.values_list("session_key", flat=True)))
    last_seen = orm(
        lambda: Membership.objects.values_list("last_seen_at", flat=True).get(
            pk=world.alpha.owner.pk
        )
    )
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made, sessions, last_seen)


def test_a_marketer_builds_a_segment_and_sees_its_members(
    world: World, live_site: LiveSite, browser: Browser, contacts: list[int]
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/marketing/segments/")
    page.get_by_test_id("new-segment").tap()
    page.get_by_label("Name").fill("Clienti")
    page.get_by_label("Kind").select_option("dynamic")
    definition = {
        "match": "all",
        "conditions": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}],
    }
    page.get_by_label("Filter (JSON)").fill(json.dumps(definition))
    capture(page, "segment-builder")
    page.get_by_role("button", name="Create segment").tap()

    expect(page.get_by_test_id("segment-count")).to_contain_text("2 contacts")
    members = page.get_by_test_id("segment-members")
    expect(members).to_contain_text("Giulia")
    expect(members).to_contain_text("Marco")
    expect(members).not_to_contain_text("Luca")
    capture(page, "segment-members")
    assert orm(_segments, world) == [("Clienti", "dynamic")]
    page.context.close()
