from typing import Any

from django.core.management.base import BaseCommand

from billing.revenue_rollup import revenue_rebuild


class Command(BaseCommand):
    help = (
        "Make the staff revenue dashboard's rollup again from every stored Stripe "
        "subscription event (after a restore, or once for events stored before it existed)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        taken = revenue_rebuild()
        self.stdout.write(f"{taken} subscription events taken into the revenue rollup")
