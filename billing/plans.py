"""The plans sold on the pricing page. Prices are per seat per month."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tenants.models import Plan


@dataclass(frozen=True)
class PlanOffer:
    code: str
    name: str | Promise
    price_per_seat: Decimal
    currency: str
    seat_limit: int
    highlights: tuple[str | Promise, ...]


OFFERS: tuple[PlanOffer, ...] = (
    PlanOffer(
        code=Plan.STARTER,
        name=_("Starter"),
        price_per_seat=Decimal("15.00"),
        currency="USD",
        seat_limit=10,
        highlights=(_("Contacts, companies and deals"), _("One pipeline"), _("Email support")),
    ),
    PlanOffer(
        code=Plan.PROFESSIONAL,
        name=_("Professional"),
        price_per_seat=Decimal("49.00"),
        currency="USD",
        seat_limit=100,
        highlights=(
            _("Sales, service and marketing"),
            _("Unlimited pipelines and automation"),
            _("Live dashboards and reports"),
        ),
    ),
    PlanOffer(
        code=Plan.ENTERPRISE,
        name=_("Enterprise"),
        price_per_seat=Decimal("99.00"),
        currency="USD",
        seat_limit=1000,
        highlights=(
            _("Everything in Professional"),
            _("Single sign-on and field-level security"),
            _("Audit log export and priority support"),
        ),
    ),
)
