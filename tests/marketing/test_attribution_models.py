"""The attribution models are pure: for any amount in cents and any number of touches, every
model's credits add up to the amount exactly, none is negative (for a positive amount), and
each model gives what its name says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_modules.marketing import attribution

# A shared machine under load generates inputs slowly; the property, not the speed, is tested.
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
amounts = st.integers(min_value=0, max_value=10**15 - 1).map(lambda c: Decimal(c) / 100)
counts = st.integers(min_value=1, max_value=60)


@PROPERTY
@given(amount=amounts, count=counts, model=st.sampled_from(attribution.MODELS))
def test_every_models_credits_sum_to_the_amount_exactly(
    amount: Decimal, count: int, model: str
) -> None:
    shares = attribution.credits(amount, model, count)
    assert len(shares) == count
    assert sum(shares, Decimal("0")) == amount
    assert all(share >= 0 for share in shares)
    assert all(share == share.quantize(Decimal("0.01")) for share in shares)


@PROPERTY
@given(amount=amounts, count=counts)
def test_first_and_last_touch_give_everything_to_one_touch(amount: Decimal, count: int) -> None:
    first = attribution.credits(amount, attribution.FIRST_TOUCH, count)
    last = attribution.credits(amount, attribution.LAST_TOUCH, count)
    assert first[0] == amount
    assert sum(first[1:], Decimal("0")) == 0
    assert last[-1] == amount
    assert sum(last[:-1], Decimal("0")) == 0


@PROPERTY
@given(amount=amounts, count=counts)
def test_linear_shares_differ_by_at_most_a_cent(amount: Decimal, count: int) -> None:
    shares = attribution.credits(amount, attribution.LINEAR, count)
    assert max(shares) - min(shares) <= Decimal("0.01")


@PROPERTY
@given(amount=amounts, count=st.integers(min_value=3, max_value=60))
def test_u_shaped_gives_the_ends_forty_percent_each(amount: Decimal, count: int) -> None:
    shares = attribution.credits(amount, attribution.U_SHAPED, count)
    exact = amount * Decimal("0.4")
    assert abs(shares[0] - exact) < Decimal("0.01")
    assert abs(shares[-1] - exact) < Decimal("0.01")


def test_known_values() -> None:
    assert attribution.credits(Decimal("100.00"), attribution.LINEAR, 3) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert attribution.credits(Decimal("1000.00"), attribution.U_SHAPED, 4) == [
        Decimal("400.00"),
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("400.00"),
    ]
    assert attribution.credits(Decimal("10.00"), attribution.U_SHAPED, 2) == [
        Decimal("5.00"),
        Decimal("5.00"),
    ]
    assert attribution.credits(Decimal("10.00"), attribution.LINEAR, 0) == []


def test_fractions_of_a_cent_and_unknown_models_are_refused() -> None:
    with pytest.raises(ValueError, match="whole cents"):
        attribution.credits(Decimal("0.005"), attribution.LINEAR, 2)
    with pytest.raises(ValueError, match="Unknown attribution model"):
        attribution.credits(Decimal("1.00"), "w_shaped", 2)


def test_roi() -> None:
    assert attribution.roi(Decimal("300"), Decimal("100")) == Decimal("2.0000")
    assert attribution.roi(Decimal("50"), Decimal("100")) == Decimal("-0.5000")
    assert attribution.roi(Decimal("50"), None) is None
    assert attribution.roi(Decimal("50"), Decimal("0")) is None
