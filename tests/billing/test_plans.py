from decimal import Decimal

import pytest

from billing.plans import (
    PLANS,
    Feature,
    Interval,
    Limit,
    Money,
    plan_allows,
    plan_limit,
    plan_spec,
)
from tenants.models import Plan, Tenant


def _tenant(plan: str) -> Tenant:
    return Tenant(schema_name="unsaved", plan=plan)


def test_every_sold_plan_has_monthly_and_annual_prices_in_usd_and_eur() -> None:
    assert [spec.code for spec in PLANS] == [Plan.STARTER, Plan.PROFESSIONAL, Plan.ENTERPRISE]
    for spec in PLANS:
        for currency in ("USD", "EUR"):
            monthly = spec.price(currency=currency, interval=Interval.MONTH)
            annual = spec.price(currency=currency, interval=Interval.YEAR)
            assert monthly.currency == currency
            assert isinstance(monthly.amount, Decimal)
            # Annual is discounted: ten months' price for twelve.
            assert annual == Money(monthly.amount * 10, currency)
            assert annual.amount < monthly.amount * 12


def test_prices_are_exact() -> None:
    professional = plan_spec(Plan.PROFESSIONAL)
    assert professional.price(currency="USD", interval=Interval.MONTH) == Money(
        Decimal("49.00"), "USD"
    )
    assert professional.price(currency="EUR", interval=Interval.YEAR) == Money(
        Decimal("450.00"), "EUR"
    )


def test_unknown_currency_or_interval_is_refused() -> None:
    spec = plan_spec(Plan.STARTER)
    with pytest.raises(ValueError, match="no price in GBP"):
        spec.price(currency="GBP", interval=Interval.MONTH)
    with pytest.raises(ValueError, match="Unknown billing interval week"):
        spec.price(currency="USD", interval="week")


def test_features_grow_with_the_plan() -> None:
    assert plan_allows(_tenant(Plan.STARTER), Feature.SALES) is True
    assert plan_allows(_tenant(Plan.STARTER), Feature.MARKETING) is False
    assert plan_allows(_tenant(Plan.PROFESSIONAL), Feature.MARKETING) is True
    assert plan_allows(_tenant(Plan.PROFESSIONAL), Feature.SSO) is False
    assert plan_allows(_tenant(Plan.ENTERPRISE), Feature.SSO) is True


def test_limits_per_plan() -> None:
    starter = _tenant(Plan.STARTER)
    assert plan_limit(starter, Limit.SEATS) == 10
    assert plan_limit(starter, Limit.PIPELINES) == 1
    assert plan_limit(starter, Limit.STORAGE_BYTES) == 10 * 1024**3
    assert plan_limit(starter, Limit.API_REQUESTS_PER_MINUTE) == 60
    assert plan_limit(_tenant(Plan.PROFESSIONAL), Limit.PIPELINES) is None  # unlimited
    assert plan_limit(_tenant(Plan.ENTERPRISE), Limit.SEATS) == 1000


def test_a_trial_gets_the_features_and_limits_of_professional() -> None:
    trial = _tenant(Plan.TRIAL)
    professional = _tenant(Plan.PROFESSIONAL)
    for feature in Feature.values:
        assert plan_allows(trial, feature) == plan_allows(professional, feature)
    for limit in Limit.values:
        assert plan_limit(trial, limit) == plan_limit(professional, limit)


def test_unknown_feature_or_limit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="Unknown plan feature teleport"):
        plan_allows(_tenant(Plan.ENTERPRISE), "teleport")
    with pytest.raises(ValueError, match="Unknown plan limit moons"):
        plan_limit(_tenant(Plan.ENTERPRISE), "moons")
