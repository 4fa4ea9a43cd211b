"""Customer values: recency, frequency and monetary value of every customer (contact and
company) from its won deals, their RFM scores and segment, and its lifetime value.

One set-based statement per kind recomputes the whole workspace (ADR 0025): it reads only won
deals (grouped by customer), scores each measure in quintiles with ``ntile(5)``, upserts one
row per customer and deletes the rows of customers who no longer have a won deal. Its cost
grows with the number of won deals, not of contacts, so a workspace of a million contacts
recomputes in one short statement; it runs nightly and whenever asked.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from crm_modules.reporting.models import CustomerValue
from crm_modules.reporting.money import converted_sql
from crm_modules.sales.api import Company, Contact, Deal

VALUES_EVENT = "customer_values.updated"
# Projection: the yearly value so far (revenue over the years since the first win, at least
# one), for the next year, fading linearly to nothing two years after the last win.
YEAR_SECONDS = Decimal("31557600")  # 365.25 days
FADE_SECONDS = Decimal("63072000")  # 730 days

_SEGMENT = """
    CASE WHEN r >= 4 AND fm >= 4 THEN 'champions'
         WHEN r >= 3 AND fm >= 3 THEN 'loyal'
         WHEN r >= 4 THEN 'promising'
         WHEN r = 3 THEN 'needs_attention'
         WHEN fm >= 3 THEN 'at_risk'
         WHEN r = 2 THEN 'hibernating'
         ELSE 'lost' END
"""


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model: Any, field: str) -> str:
    """The quoted column of a concrete field."""
    concrete = model._meta.get_field(field)
    if not isinstance(concrete, Field) or concrete.column is None:
        raise TypeError(f"{model.__name__}.{field} has no column")
    return _q(concrete.column)


def _won_by_customer(kind: str) -> tuple[str, str, str]:
    """(the won deals as (record_id, amount, closed_at) rows, the customer table, its name
    expression). Table and column names come from the models, never from input."""
    deal = _q(Deal._meta.db_table)
    status, closed = (_column(Deal, f) for f in ("status", "closed_at"))
    # In the workspace's currency (ADR 0047); a deal whose currency has no rate counts as 0.
    amount = f"coalesce({converted_sql('d', named=True)[0]}, 0)"
    if kind == CustomerValue.Kind.CONTACT:
        through = Deal.contacts.through
        link = _q(through._meta.db_table)
        deal_col, contact_col = _column(through, "deal"), _column(through, "contact")
        won = (
            f"SELECT l.{contact_col} AS record_id, {amount} AS amount, d.{closed} AS closed_at "  # noqa: S608
            f"FROM {deal} d JOIN {link} l ON l.{deal_col} = d.id "
            f"WHERE d.{status} = 'won' AND d.{closed} IS NOT NULL"
        )
        first, last = (_column(Contact, f) for f in ("first_name", "last_name"))
        return won, _q(Contact._meta.db_table), f"trim(concat_ws(' ', c.{first}, c.{last}))"
    company_col = _column(Deal, "company")
    won = (
        f"SELECT d.{company_col} AS record_id, {amount} AS amount, d.{closed} AS closed_at "  # noqa: S608
        f"FROM {deal} d WHERE d.{status} = 'won' AND d.{closed} IS NOT NULL "
        f"AND d.{company_col} IS NOT NULL"
    )
    return won, _q(Company._meta.db_table), f"c.{_column(Company, 'name')}"


def _recompute_sql(kind: str) -> str:
    won, customers, name = _won_by_customer(kind)
    table = _q(CustomerValue._meta.db_table)
    owner = _q("owner_id")
    return f"""
WITH won AS ({won}),
agg AS (
    SELECT record_id, min(closed_at) AS first_won_at, max(closed_at) AS last_won_at,
           count(*) AS won_deals, sum(amount) AS revenue
    FROM won GROUP BY record_id
),
scored AS (
    SELECT agg.*,
           ntile(5) OVER (ORDER BY last_won_at, record_id) AS r,
           ntile(5) OVER (ORDER BY won_deals, record_id) AS f,
           ntile(5) OVER (ORDER BY revenue, record_id) AS m
    FROM agg
),
valued AS (
    SELECT scored.*, (f + m + 1) / 2 AS fm,
           round(revenue
                 / greatest(extract(epoch FROM (%(now)s - first_won_at)) / %(year)s, 1)
                 * greatest(0, 1 - extract(epoch FROM (%(now)s - last_won_at)) / %(fade)s), 2)
               AS predicted
    FROM scored
)
INSERT INTO {table} (kind, record_id, name, owner_id, first_won_at, last_won_at, won_deals,
                     revenue, predicted_value, lifetime_value, recency_score, frequency_score,
                     monetary_score, segment, computed_at)
SELECT %(kind)s, v.record_id, left({name}, 300), c.{owner}, v.first_won_at, v.last_won_at,
       v.won_deals, v.revenue, v.predicted, v.revenue + v.predicted, v.r, v.f, v.m,
       {_SEGMENT}, %(now)s
FROM valued v JOIN {customers} c ON c.id = v.record_id
ON CONFLICT (kind, record_id) DO UPDATE SET
    name = EXCLUDED.name, owner_id = EXCLUDED.owner_id,
    first_won_at = EXCLUDED.first_won_at, last_won_at = EXCLUDED.last_won_at,
    won_deals = EXCLUDED.won_deals, revenue = EXCLUDED.revenue,
    predicted_value = EXCLUDED.predicted_value, lifetime_value = EXCLUDED.lifetime_value,
    recency_score = EXCLUDED.recency_score, frequency_score = EXCLUDED.frequency_score,
    monetary_score = EXCLUDED.monetary_score, segment = EXCLUDED.segment,
    computed_at = EXCLUDED.computed_at
"""  # noqa: S608 - identifiers from the models; every value is a bound parameter


def customer_values_recompute(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Recompute every customer of the current workspace; returns the rows per kind."""
    moment = now or timezone.now()
    params: dict[str, Any] = {
        "now": moment,
        "year": YEAR_SECONDS,
        "fade": FADE_SECONDS,
        **converted_sql("d", named=True)[1],
    }
    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for kind in CustomerValue.Kind.values:
            cursor.execute(_recompute_sql(kind), {**params, "kind": kind})
            counts[kind] = cursor.rowcount
            # Customers without a won deal any more (lost, deleted, merged away).
            CustomerValue.objects.filter(kind=kind).exclude(computed_at=moment).delete()
    return counts
