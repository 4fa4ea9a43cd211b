"""Money in the workspace's currency (ADR 0047): a deal keeps its own amount and currency;
reports convert it with the workspace's exchange rates — the rate in effect on the day the
deal closed, or the latest for an open deal — so that EUR is never added to USD. A deal in
the workspace's currency needs no rate; a deal in a currency without a rate is left out of
sums and averages, and the chart says which currencies lack one."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from crm_modules.reporting.models_rates import ExchangeRate
from tenants.models import Tenant

MONEY = DecimalField(max_digits=30, decimal_places=8)


def workspace_currency() -> str:
    """The currency of the workspace whose schema is active."""
    tenant = getattr(connection, "tenant", None)
    code = getattr(tenant, "currency", None)
    if isinstance(code, str) and code:
        return code
    found = (
        Tenant.objects.filter(schema_name=getattr(connection, "schema_name", ""))
        .values_list("currency", flat=True)
        .first()
    )
    return found or "USD"


def _rates(base: str, currency: str, on: str | None, today: datetime.date) -> QuerySet[Any]:
    day: Any = Value(today, output_field=DateField())
    if on:
        day = Coalesce(Cast(OuterRef(on), DateField()), day, output_field=DateField())
    return ExchangeRate.objects.filter(
        base=base, currency=OuterRef(currency), valid_from__lte=day
    ).order_by("-valid_from")


def converted(
    amount: Any = "amount",
    *,
    currency: str = "currency",
    on: str | None = "closed_at",
    base: str | None = None,
    today: datetime.date | None = None,
) -> Any:
    """An expression: ``amount`` (a path or an expression over the record) in the workspace's
    currency; NULL where its currency has no rate on the day."""
    base = base or workspace_currency()
    today = today or timezone.now().date()
    value = F(amount) if isinstance(amount, str) else amount
    rate = Subquery(_rates(base, currency, on, today).values("rate")[:1], output_field=MONEY)
    return Case(
        When(**{currency: base}, then=ExpressionWrapper(value, output_field=MONEY)),
        default=ExpressionWrapper(value * rate, output_field=MONEY),
        output_field=MONEY,
    )


def unconverted_currencies(
    records: QuerySet[Any],
    *,
    currency: str = "currency",
    on: str | None = "closed_at",
    limit: int = 10,
) -> list[str]:
    """The currencies of ``records`` that have no rate into the workspace's currency on their
    day (their amounts are left out of sums), alphabetically."""
    base = workspace_currency()
    today = timezone.now().date()
    missing = (
        records.exclude(**{currency: base})
        .exclude(Exists(_rates(base, currency, on, today)))
        .order_by()
        .values_list(currency, flat=True)
        .distinct()
    )
    return sorted(str(code) for code in missing[:limit] if code)


def converted_sql(alias: str, *, named: bool = False) -> tuple[str, Any]:
    """The same conversion in SQL, for set-based queries written by hand: the expression
    over the deal table aliased ``alias`` (``d.amount`` in the workspace's currency) and its
    parameters — a list for ``%s`` placeholders, or a dict for ``%(name)s`` ones."""
    rates = connection.ops.quote_name(ExchangeRate._meta.db_table)
    base, today = workspace_currency(), timezone.now().date()
    params: dict[str, Any] | list[Any]
    if named:
        b, t = "%(money_base)s", "%(money_today)s"
        params = {"money_base": base, "money_today": today}
    else:
        b, t = "%s", "%s"
        params = [base, base, today]
    sql = (
        f"CASE WHEN {alias}.currency = {b} THEN {alias}.amount"  # noqa: S608
        f" ELSE {alias}.amount * (SELECT r.rate FROM {rates} r WHERE r.base = {b}"
        f" AND r.currency = {alias}.currency"
        f" AND r.valid_from <= coalesce({alias}.closed_at::date, {t})"
        " ORDER BY r.valid_from DESC LIMIT 1) END"
    )
    return sql, params
