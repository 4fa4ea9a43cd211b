"""The plans sold, in one place: per-seat prices, features and limits (D19).

The rest of the product asks ``plan_allows(tenant, feature)`` and ``plan_limit(tenant, name)``
and never reads plan codes or Stripe objects. A trial runs on Professional's features and
limits so a company tries what it is most likely to buy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tenants.models import Plan, Tenant

MIB = 1024**2
GIB = 1024**3


class Interval(models.TextChoices):
    MONTH = "month", _("Monthly")
    YEAR = "year", _("Annual")


CURRENCIES: tuple[str, ...] = ("USD", "EUR")
DEFAULT_CURRENCY = "USD"
# Annual billing: twelve months for the price of ten.
ANNUAL_MONTHS_CHARGED = 10


class Feature(models.TextChoices):
    SALES = "sales", _("Sales pipelines and deals")
    SERVICE = "service", _("Service desk and SLAs")
    MARKETING = "marketing", _("Marketing campaigns")
    REPORTING = "reporting", _("Live dashboards and reports")
    AUTOMATION = "automation", _("Workflow automation")
    API = "api", _("REST API and API keys")
    SSO = "sso", _("Single sign-on")
    FIELD_SECURITY = "field_security", _("Field-level security")
    AUDIT_EXPORT = "audit_export", _("Audit log export")


class Limit(models.TextChoices):
    SEATS = "seats", _("Seats")
    STORAGE_BYTES = "storage_bytes", _("Storage")
    FILE_BYTES = "file_bytes", _("Largest file")
    API_REQUESTS_PER_MINUTE = "api_requests_per_minute", _("API requests per minute")
    PIPELINES = "pipelines", _("Pipelines")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: str | Promise
    # Per seat per month on monthly billing, by currency.
    monthly_per_seat: Mapping[str, Decimal]
    features: frozenset[str]
    # None: unlimited.
    limits: Mapping[str, int | None]
    highlights: tuple[str | Promise, ...] = field(default=())
    # Features sold with the plan but not built yet: shown as "coming soon", never as included.
    coming_soon: tuple[str | Promise, ...] = field(default=())

    def price(self, *, currency: str, interval: str) -> Money:
        """Per seat, for one billing period of ``interval``."""
        if currency not in self.monthly_per_seat:
            raise ValueError(f"Plan {self.code} has no price in {currency}")
        monthly = self.monthly_per_seat[currency]
        if interval == Interval.MONTH:
            return Money(monthly, currency)
        if interval == Interval.YEAR:
            return Money(monthly * ANNUAL_MONTHS_CHARGED, currency)
        raise ValueError(f"Unknown billing interval {interval}")

    # What the public pricing page shows: the monthly price in the default currency.
    @property
    def price_per_seat(self) -> Decimal:
        return self.monthly_per_seat[DEFAULT_CURRENCY]

    @property
    def currency(self) -> str:
        return DEFAULT_CURRENCY

    @property
    def seat_limit(self) -> int:
        return self.limits[Limit.SEATS] or 0


_CORE = frozenset({Feature.SALES, Feature.REPORTING})
# Features on the plan table that the product does not have yet (ADR 0078): the pricing and
# billing pages list them as coming soon, never as included.
NOT_BUILT = frozenset({Feature.SSO, Feature.FIELD_SECURITY})
_PROFESSIONAL = _CORE | {Feature.SERVICE, Feature.MARKETING, Feature.AUTOMATION, Feature.API}

PLANS: tuple[PlanSpec, ...] = (
    PlanSpec(
        code=Plan.STARTER,
        name=_("Starter"),
        monthly_per_seat={"USD": Decimal("15.00"), "EUR": Decimal("14.00")},
        features=_CORE,
        limits={
            Limit.SEATS: 10,
            Limit.STORAGE_BYTES: 10 * GIB,
            Limit.FILE_BYTES: 100 * MIB,
            Limit.API_REQUESTS_PER_MINUTE: 60,
            Limit.PIPELINES: 1,
        },
        highlights=(_("Contacts, companies and deals"), _("One pipeline"), _("Email support")),
    ),
    PlanSpec(
        code=Plan.PROFESSIONAL,
        name=_("Professional"),
        monthly_per_seat={"USD": Decimal("49.00"), "EUR": Decimal("45.00")},
        features=_PROFESSIONAL,
        limits={
            Limit.SEATS: 100,
            Limit.STORAGE_BYTES: 100 * GIB,
            Limit.FILE_BYTES: 1 * GIB,
            Limit.API_REQUESTS_PER_MINUTE: 600,
            Limit.PIPELINES: None,
        },
        highlights=(
            _("Sales, service and marketing"),
            _("Unlimited pipelines and automation"),
            _("Live dashboards and reports"),
        ),
    ),
    PlanSpec(
        code=Plan.ENTERPRISE,
        name=_("Enterprise"),
        monthly_per_seat={"USD": Decimal("99.00"), "EUR": Decimal("91.00")},
        features=_PROFESSIONAL | {Feature.SSO, Feature.FIELD_SECURITY, Feature.AUDIT_EXPORT},
        limits={
            Limit.SEATS: 1000,
            Limit.STORAGE_BYTES: 1024 * GIB,
            Limit.FILE_BYTES: 5 * GIB,
            Limit.API_REQUESTS_PER_MINUTE: 3000,
            Limit.PIPELINES: None,
        },
        highlights=(
            _("Everything in Professional"),
            _("Audit log export and priority support"),
        ),
        coming_soon=tuple(Feature(code).label for code in sorted(NOT_BUILT)),
    ),
)

# The public site lists these.
OFFERS = PLANS

_BY_CODE: dict[str, PlanSpec] = {spec.code: spec for spec in PLANS}
# What a trial runs on.
TRIAL_PLAN = Plan.PROFESSIONAL


def price_lookup_key(*, plan: str, interval: str) -> str:
    """The Stripe Price lookup key of one plan and interval: one Price in every currency
    sold (``currency_options``, ADR 0084)."""
    return f"rapport_{plan}_{interval}"


@dataclass(frozen=True)
class PriceChoice:
    plan: str
    interval: str
    # The currency of a per-currency Price sold before ADR 0084, named in its lookup key
    # (``rapport_<plan>_<interval>_<currency>``); "" for the current Prices.
    legacy_currency: str = ""


def price_choice_from_lookup_key(lookup_key: str) -> PriceChoice | None:
    """The plan and interval of one of our Stripe Price lookup keys, current or per-currency
    (subscriptions and stored events still name those), or None for a price not ours."""
    for spec in PLANS:
        for interval in Interval.values:
            key = price_lookup_key(plan=spec.code, interval=interval)
            if lookup_key == key:
                return PriceChoice(plan=spec.code, interval=interval)
            for currency in CURRENCIES:
                if lookup_key == legacy_price_lookup_key(key, currency):
                    return PriceChoice(spec.code, interval, legacy_currency=currency)
    return None


def price_choice(price: Mapping[str, Any]) -> PriceChoice | None:
    """The plan and interval a Stripe Price of ours sells: from its lookup key; a Price whose
    amount ``stripe_sync_plans`` replaced handed its lookup key to the new one, and is read
    from the plan and interval the sync wrote in its metadata (its subscribers keep it)."""
    choice = price_choice_from_lookup_key(str(price.get("lookup_key") or ""))
    if choice is not None:
        return choice
    metadata = price.get("metadata") or {}
    plan, interval = metadata.get("plan"), metadata.get("interval")
    if any(spec.code == plan for spec in PLANS) and interval in Interval.values:
        currency = str(price.get("currency") or "").upper()
        return PriceChoice(plan=str(plan), interval=str(interval), legacy_currency=currency)
    return None


def subscription_currency(subscription: Mapping[str, Any], choice: PriceChoice) -> str:
    """The currency (upper case) a Stripe subscription bills in: its ``currency``; one
    described without it (stored before ADR 0084) is named in its Price's lookup key."""
    return str(subscription.get("currency") or choice.legacy_currency).upper()


def legacy_price_lookup_key(lookup_key: str, currency: str) -> str:
    """The lookup key of the per-currency Price that ``lookup_key``'s Price replaced."""
    return f"{lookup_key}_{currency.lower()}"


def plan_rank(code: str) -> int:
    """Cheapest first: a change to a higher rank is an upgrade."""
    return [spec.code for spec in PLANS].index(code)


# How much of a limit a workspace uses, by limit name: modules register a counter for what
# they own (sales its pipelines), so a downgrade can be refused before it breaks a limit.
_USAGE: dict[str, Callable[[Tenant], int]] = {}


def register_usage(name: str, counter: Callable[[Tenant], int]) -> None:
    if name not in Limit.values:
        raise ValueError(f"Unknown plan limit {name}")
    _USAGE[name] = counter


def limits_exceeded(tenant: Tenant, plan: str) -> list[tuple[str, int, int]]:
    """The registered limits ``plan`` would break for ``tenant``: (limit, used, allowed)."""
    spec = plan_spec(plan)
    broken = []
    for name, counter in sorted(_USAGE.items()):
        allowed = spec.limits[name]
        if allowed is None:
            continue
        used = counter(tenant)
        if used > allowed:
            broken.append((name, used, allowed))
    return broken


def plan_spec(code: str) -> PlanSpec:
    """The spec of a sold plan, or of the plan a trial runs on. KeyError for anything else."""
    return _BY_CODE[TRIAL_PLAN if code == Plan.TRIAL else code]


def plans_with(feature: str) -> frozenset[str]:
    """The plan codes whose workspaces have ``feature``: the plans that sell it, and the trial
    when the plan a trial runs on does. A module registers its capabilities with these plans
    (``tenants.capabilities.register(plans=...)``), so the one permission question refuses
    them to any other plan, in every channel."""
    if feature not in Feature.values:
        raise ValueError(f"Unknown plan feature {feature}")
    codes = {spec.code for spec in PLANS if feature in spec.features}
    if TRIAL_PLAN in codes:
        codes.add(Plan.TRIAL)
    return frozenset(codes)


# What a workspace keeps and what waits while its plan leaves a feature out (ADR 0078): the
# billing page says it, so nothing stops without a visible reason.
WHILE_LEFT_OUT: Mapping[str, str | Promise] = {
    Feature.SERVICE: _(
        "Service: tickets, mail received and settings are kept. The customer portal and the "
        "ticket web form answer that they are not available, email to the support address is "
        "bounced to its sender, SLA alerts wait and satisfaction surveys wait: they are sent once "
        "the plan includes service, unless the ticket was solved too long before (then they "
        "are marked expired)."
    ),
    Feature.MARKETING: _(
        "Marketing: campaigns, sequences, forms and lists are kept. Scheduled and unfinished "
        "campaigns are held by the plan and due sequence steps wait, not sent; both go on by "
        "themselves once the plan includes marketing. Public forms answer that they are not "
        "available."
    ),
    Feature.AUTOMATION: _(
        "Workflow automation: score thresholds, event-trigger rules, ticket routing rules and "
        "SLA escalations are kept, paused; records that cross a threshold and breaches "
        "meanwhile are not acted on later."
    ),
}


# What a module starts again when a workspace's plan changes (ADR 0081): the work it held while
# the plan left a feature out (a campaign held by the plan, satisfaction surveys not sent).
# Billing imports no module; modules register here. Each is called with the workspace after
# the plan change is committed, and decides itself whether the new plan lets it resume.
_ON_PLAN_CHANGE: list[Callable[[Tenant], None]] = []


def on_plan_change(resume: Callable[[Tenant], None]) -> None:
    if resume not in _ON_PLAN_CHANGE:
        _ON_PLAN_CHANGE.append(resume)


def plan_changed(tenant: Tenant) -> None:
    """The workspace's plan was written: let each module resume what the plan held. One that
    fails is logged and does not stop the others (the periodic sweeps pick it up later)."""
    for resume in list(_ON_PLAN_CHANGE):
        try:
            resume(tenant)
        except Exception:
            logging.getLogger(__name__).exception(
                "resume after plan change failed", extra={"schema": tenant.schema_name}
            )


def left_out_while(tenant: Tenant) -> list[str | Promise]:
    """What waits in ``tenant`` because its plan leaves a feature out, for the billing page."""
    return [text for feature, text in WHILE_LEFT_OUT.items() if not plan_allows(tenant, feature)]


def plan_allows(tenant: Tenant, feature: str) -> bool:
    if feature not in Feature.values:
        raise ValueError(f"Unknown plan feature {feature}")
    return feature in plan_spec(tenant.plan).features


def plan_limit(tenant: Tenant, name: str) -> int | None:
    """The plan's limit ``name``; None means unlimited."""
    if name not in Limit.values:
        raise ValueError(f"Unknown plan limit {name}")
    return plan_spec(tenant.plan).limits[name]
