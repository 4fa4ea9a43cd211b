"""Next best offer (ADR 0042): for each contact, the products they have not bought that
customers who bought the same things did, from item-to-item co-occurrence over won deals' line
items. One set-based statement recomputes the whole workspace into ``NextBestOffer`` (kept by
the nightly task, and on demand); pages, the contact panel and campaign placeholders only read
that table, so a contact's offers cost one indexed query at any size.

For products A (owned) and B (not owned): confidence = buyers of A and B / buyers of A;
lift = confidence / (buyers of B / all buyers). Each contact gets its 3 best products by
confidence (then lift), each explained by the product of theirs that best predicts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from crm_modules.marketing.models_triggers import NextBestOffer
from crm_modules.sales.api import Contact
from tenants.models import Membership
from tenants.permissions import require

OFFERS_PER_CONTACT = 3
# Rules kept per product owned: enough to find 3 products a contact lacks, few enough that the
# join with every contact's products stays linear.
RULES_PER_BASIS = 20
# A pair bought together by fewer customers than this is noise, not a pattern.
MIN_PAIR_BUYERS = 2

_RECOMPUTE = """
WITH owned AS (
    SELECT DISTINCT dc.contact_id, li.product_id
    FROM sales_deal d
    JOIN sales_deal_contacts dc ON dc.deal_id = d.id
    JOIN sales_lineitem li ON li.deal_id = d.id
    WHERE d.status = 'won'
),
buyers AS (SELECT product_id, count(*) AS n FROM owned GROUP BY product_id),
everyone AS (SELECT count(DISTINCT contact_id) AS n FROM owned),
pairs AS (
    SELECT a.product_id AS basis, b.product_id AS product, count(*) AS n
    FROM owned a
    JOIN owned b ON b.contact_id = a.contact_id AND b.product_id <> a.product_id
    GROUP BY a.product_id, b.product_id
    HAVING count(*) >= %(min_pair)s
),
rules AS (
    SELECT basis, product, confidence, lift, basis_buyers FROM (
        SELECT p.basis, p.product,
               p.n::float8 / ba.n AS confidence,
               (p.n::float8 / ba.n) / (bp.n::float8 / e.n) AS lift,
               ba.n AS basis_buyers,
               row_number() OVER (
                   PARTITION BY p.basis ORDER BY p.n::float8 / ba.n DESC, p.product
               ) AS position
        FROM pairs p
        JOIN buyers ba ON ba.product_id = p.basis
        JOIN buyers bp ON bp.product_id = p.product
        JOIN sales_product sp ON sp.id = p.product AND sp.active
        CROSS JOIN everyone e
    ) ranked_rules
    WHERE position <= %(per_basis)s
),
candidates AS (
    SELECT DISTINCT ON (o.contact_id, r.product)
           o.contact_id, r.product, r.basis, r.confidence, r.lift, r.basis_buyers
    FROM owned o
    JOIN rules r ON r.basis = o.product_id
    WHERE NOT EXISTS (
        SELECT 1 FROM owned x WHERE x.contact_id = o.contact_id AND x.product_id = r.product
    )
    ORDER BY o.contact_id, r.product, r.confidence DESC, r.lift DESC, r.basis
),
ranked AS (
    SELECT c.*, row_number() OVER (
        PARTITION BY c.contact_id ORDER BY c.confidence DESC, c.lift DESC, c.product
    ) AS rank
    FROM candidates c
)
INSERT INTO marketing_nextbestoffer
    (contact_id, rank, product_id, basis_id, confidence, lift, basis_buyers, computed_at)
SELECT contact_id, rank, product, basis, confidence, lift, basis_buyers, now()
FROM ranked WHERE rank <= %(per_contact)s
"""


def offers_recompute() -> int:
    """Replace every contact's offers in the current workspace; returns how many rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Readers keep seeing the old offers until the new ones commit.
        cursor.execute("LOCK TABLE marketing_nextbestoffer IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM marketing_nextbestoffer")
        cursor.execute(
            _RECOMPUTE,
            {
                "min_pair": MIN_PAIR_BUYERS,
                "per_basis": RULES_PER_BASIS,
                "per_contact": OFFERS_PER_CONTACT,
            },
        )
        rows = int(cursor.rowcount)
        # The table was just replaced: without fresh statistics the planner guesses thousands
        # of rows per contact and reads one contact's offers with a parallel scan (26 ms
        # instead of well under one) until autovacuum comes round.
        cursor.execute("ANALYZE marketing_nextbestoffer")
        return rows


@dataclass(frozen=True)
class Offer:
    product_id: int
    product: str
    basis: str
    confidence: float
    lift: float
    basis_buyers: int

    @property
    def percent(self) -> int:
        return round(self.confidence * 100)

    @property
    def explanation(self) -> str:
        return _(
            "Bought by %(percent)d%% of the %(buyers)d customers who bought %(basis)s "
            "(%(lift)s times as likely as any customer)."
        ) % {
            "percent": self.percent,
            "buyers": self.basis_buyers,
            "basis": self.basis,
            "lift": f"{self.lift:.1f}",
        }


def offers_for(contact_id: int) -> list[Offer]:
    rows = (
        NextBestOffer.objects.filter(contact_id=contact_id)
        .select_related("product", "basis")
        .order_by("rank")
    )
    return [
        Offer(
            product_id=row.product_id,
            product=row.product.name,
            basis=row.basis.name,
            confidence=row.confidence,
            lift=row.lift,
            basis_buyers=row.basis_buyers,
        )
        for row in rows
    ]


def first_offers(contact_ids: Iterable[int]) -> dict[int, str]:
    """Each contact's best offer's product name (for a batch of campaign recipients)."""
    return dict(
        NextBestOffer.objects.filter(contact_id__in=list(contact_ids), rank=1).values_list(
            "contact_id", "product__name"
        )
    )


def offers_panel(*, actor: Membership, contact: Contact) -> dict[str, Any]:
    from crm_modules.marketing.module import VIEW_OFFERS

    require(actor, VIEW_OFFERS)
    return {"offers": offers_for(contact.pk)}
