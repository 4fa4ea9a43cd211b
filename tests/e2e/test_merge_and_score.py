"""Merging two duplicate contacts in the browser, on a phone: the duplicates page shows the
pair, the merge page keeps the values chosen, the kept contact explains its lead score; the
merge is then undone from the duplicates page and both contacts are back as they were."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales.models import Company, Contact, DuplicateGroup, MergeRecord
from crm_modules.sales.services import contact_create
from crm_modules.sales.services.duplicates import duplicates_scan
from crm_modules.scoring import services as scoring
from crm_modules.scoring.models import ScoringRule
from tenants.audit.models import AuditEvent
from tenants.models import Membership
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

DOMAIN = "merge.e2e.example.com"


def _prepare(world: World) -> dict[str, int]:
    with schema_context(world.alpha.tenant.schema_name):
        actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        company = Company.objects.create(name="Merge E2E Retail", industry="Retail")
        first = contact_create(
            actor=actor,
            first_name="Maria",
            last_name="Rossi",
            emails=[f"maria@{DOMAIN}"],
            company=company,
            job_title="Buyer",
        )
        second = contact_create(
            actor=actor,
            first_name="Maria",
            last_name="Rossi",
            emails=[f"m.rossi@{DOMAIN}"],
            company=company,
            job_title="Head of buying",
        )
        scoring.rule_create(
            actor=actor,
            data={
                "entity": "contact",
                "name": "Retail E2E",
                "kind": "field",
                "field": "company.industry",
                "operator": "eq",
                "value": "retail",
                "points": 10,
            },
        )
        scoring.scores_recompute(entity="contact", ids=[first.pk, second.pk])
        duplicates_scan(entity="contact")
        return {"first": first.pk, "second": second.pk, "company": company.pk}


def _clean_up(world: World, since: datetime.datetime) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        MergeRecord.objects.all().delete()
        DuplicateGroup.objects.all().delete()
        Contact.objects.filter(search_text__contains=DOMAIN).delete()
        Company.objects.filter(name="Merge E2E Retail").delete()
        ScoringRule.objects.filter(name="Retail E2E").delete()
        AuditEvent.objects.filter(created_at__gte=since).delete()


@pytest.fixture
def committed(world: World, live_site: LiveSite) -> Iterator[tuple[World, dict[str, int]]]:
    since = timezone.now()
    ids = orm(_prepare, world)
    yield world, ids
    orm(_clean_up, world, since)


def test_two_duplicates_are_merged_explained_and_the_merge_undone(
    committed: tuple[World, dict[str, int]], live_site: LiveSite, browser: Browser
) -> None:
    world, ids = committed
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(20_000)
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    base = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{base}/sales/duplicates/?entity=contact")
    pair = page.locator("tr", has_text="Maria Rossi").first
    expect(pair).to_be_visible()
    capture(page, "duplicates-pair")
    pair.get_by_role("link", name="Merge").tap()

    # Keep the first record, with the second one's job title.
    expect(page.get_by_test_id("merge-submit")).to_be_visible()
    page.locator(f'input[name="survivor"][value="{ids["first"]}"]').check()
    page.locator(f'[data-field="job_title"] input[value="{ids["second"]}"]').check()
    capture(page, "merge-choose")
    page.get_by_test_id("merge-submit").tap()

    expect(page).to_have_url(f"{base}/sales/contacts/{ids['first']}/")
    expect(page.get_by_text("Merged. You can undo this merge")).to_be_visible()
    expect(page.get_by_text("Head of buying").first).to_be_visible()
    # The kept contact's lead score explains itself.
    score = page.get_by_test_id("score")
    expect(score.get_by_test_id("score-value")).to_have_text("10")
    expect(score.locator('[aria-label="Why this score"] li')).to_have_text(["Retail E2E: +10"])
    capture(page, "merged-contact-score")

    def state() -> list[tuple[int, str, list[str]]]:
        with schema_context(world.alpha.tenant.schema_name):
            return [
                (c.pk, c.job_title, sorted(c.emails.values_list("email", flat=True)))
                for c in Contact.objects.filter(search_text__contains=DOMAIN).order_by("pk")
            ]

    assert orm(state) == [
        (ids["first"], "Head of buying", [f"m.rossi@{DOMAIN}", f"maria@{DOMAIN}"])
    ]

    page.goto(f"{base}/sales/duplicates/?entity=contact")
    merge_row = page.locator("[data-merge]").first
    expect(merge_row).to_contain_text("1 record merged")
    merge_row.get_by_role("button", name="Undo").tap()
    expect(page.locator("[data-merge]")).to_have_count(0)
    capture(page, "merge-undone")
    context.close()

    assert orm(state) == [
        (ids["first"], "Buyer", [f"maria@{DOMAIN}"]),
        (ids["second"], "Head of buying", [f"m.rossi@{DOMAIN}"]),
    ]
