"""Attribution models: how a won deal's amount is shared among the touchpoints that led to it.
Pure functions on amounts and counts, exact in Decimal: the credits of every model add up to
the amount to the cent (largest remainder, ties to the earlier touch).

- first touch: all to the first touch;
- last touch: all to the last;
- linear: equal shares;
- U-shaped: 40% to the first and 40% to the last, the other 20% shared by the touches between
  them (with two touches 50/50, with one all of it)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
LINEAR = "linear"
U_SHAPED = "u_shaped"
MODELS = (FIRST_TOUCH, LAST_TOUCH, LINEAR, U_SHAPED)
CENT = Decimal("0.01")


def weights(model: str, count: int) -> list[Fraction]:
    """Each touch's share (they sum to 1) for ``count`` touches in time order."""
    if count < 1:
        return []
    if model == FIRST_TOUCH:
        return [Fraction(1)] + [Fraction(0)] * (count - 1)
    if model == LAST_TOUCH:
        return [Fraction(0)] * (count - 1) + [Fraction(1)]
    if model == LINEAR:
        return [Fraction(1, count)] * count
    if model == U_SHAPED:
        if count <= 2:
            return [Fraction(1, count)] * count
        middle = Fraction(1, 5) / (count - 2)
        return [Fraction(2, 5), *([middle] * (count - 2)), Fraction(2, 5)]
    raise ValueError(f"Unknown attribution model {model!r}")


def credits(amount: Decimal, model: str, count: int) -> list[Decimal]:
    """``amount`` (in cents precision) shared by ``count`` touches; sums to ``amount``."""
    if count < 1:
        return []
    cents = int((amount / CENT).to_integral_value())
    if Decimal(cents) * CENT != amount:
        raise ValueError("The amount must be whole cents")
    shares = [w * cents for w in weights(model, count)]
    floors = [int(s.numerator // s.denominator) for s in shares]
    left = cents - sum(floors)
    # Largest remainders first; an earlier touch wins a tie.
    order = sorted(range(count), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left] if left >= 0 else []:
        floors[i] += 1
    return [Decimal(c) * CENT for c in floors]


def roi(revenue: Decimal, cost: Decimal | None) -> Decimal | None:
    """(revenue - cost) / cost, as a ratio rounded to 4 places; None without a cost."""
    if cost is None or cost <= 0:
        return None
    return ((revenue - cost) / cost).quantize(Decimal("0.0001"))


def cost_per_lead(cost: Decimal | None, people: int) -> Decimal | None:
    """What each person brought in cost, to the cent; None without a cost or anybody."""
    if cost is None or people < 1:
        return None
    return (cost / people).quantize(CENT)


def rank(touches: Sequence[tuple[object, int]]) -> list[int]:
    """Indices of ``touches`` ((when, id) pairs) in time order, the id breaking ties."""
    return sorted(range(len(touches)), key=lambda i: touches[i])
