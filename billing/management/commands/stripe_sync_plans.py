"""`manage.py stripe_sync_plans`: Stripe's Products and Prices as billing/plans.py says."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.stripe_api import StripeUnavailable
from billing.sync import stripe_plans_sync


class Command(BaseCommand):
    help = "Create or update Stripe Products and Prices for every plan and interval."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = stripe_plans_sync()
        except StripeUnavailable as error:
            raise CommandError(f"Stripe refused the sync: {error}") from error
        self.stdout.write(
            "products created: {products}; prices created: {created}, replaced: {replaced}, "
            "unchanged: {kept}; per-currency prices archived: {archived}".format(
                products=done["products_created"],
                created=done["created"],
                replaced=done["replaced"],
                kept=done["kept"],
                archived=done["archived"],
            )
        )
