"""The staff revenue dashboard in a real browser: Plotly draws its charts under the product's
Content-Security-Policy, and the page fits a 375 px phone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, expect

from billing.models import StripeEvent
from billing.revenue_rollup import revenue_rebuild
from tenants.models import User, UserSession
from tests.e2e.conftest import DESKTOP, LiveSite, capture, orm
from tests.platform.staff import staff_client, superuser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

EVENT_IDS = ("evt_e2e_revenue_1", "evt_e2e_revenue_2")


def _subscription(customer: str, lookup_key: str, unit_amount: int, quantity: int) -> Any:
    return {
        "object": "subscription",
        "id": f"sub_{customer}",
        "customer": customer,
        "status": "active",
        "items": {
            "data": [
                {
                    "price": {"lookup_key": lookup_key, "unit_amount": unit_amount},
                    "quantity": quantity,
                }
            ]
        },
    }


def _make() -> tuple[int, str]:
    now = timezone.now()
    start = int(datetime(now.year, now.month, 1, tzinfo=UTC).timestamp())
    for event_id, subscription in zip(
        EVENT_IDS,
        (
            _subscription("cus_e2e_revenue_a", "rapport_professional_month_eur", 3000, 12),
            _subscription("cus_e2e_revenue_b", "rapport_starter_month_usd", 1500, 4),
        ),
        strict=True,
    ):
        StripeEvent.objects.create(
            event_id=event_id,
            type="customer.subscription.created",
            created=start + 60,
            processed_at=now,
            payload={
                "id": event_id,
                "type": "customer.subscription.created",
                "data": {"object": subscription},
            },
        )
    # As the webhook does when it applies an event.
    revenue_rebuild()
    user = superuser()
    key = staff_client(user).session.session_key
    assert key is not None
    return user.pk, key


def _clean_up(user_id: int) -> None:
    StripeEvent.objects.filter(event_id__in=EVENT_IDS).delete()
    revenue_rebuild()
    UserSession.objects.filter(user_id=user_id).delete()
    Authenticator.objects.filter(user_id=user_id).delete()
    User.objects.filter(pk=user_id).delete()


@pytest.fixture
def staff_session(live_site: LiveSite) -> Iterator[str]:
    user_id, key = orm(_make)
    yield key
    orm(_clean_up, user_id)


def test_staff_revenue_dashboard_draws_its_charts_and_fits_a_phone(
    live_site: LiveSite, browser: Browser, staff_session: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, has_touch=True)
    context.set_default_timeout(15_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": staff_session,
        "domain": "localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(f"script error: {error}"))

    response = page.goto(f"{live_site.public}/staff/revenue/")
    assert response is not None
    assert response.status == 200
    expect(page.get_by_test_id("mrr-EUR")).to_have_text("360.00 EUR")
    expect(page.get_by_test_id("mrr-USD")).to_have_text("60.00 USD")
    for key in ("mrr", "net-new", "churn", "trials", "seats"):
        expect(page.locator(f"#chart-{key} .chart-mount .main-svg").first).to_be_visible()
    capture(page, "staff-revenue")
    context.close()
    assert violations == []
