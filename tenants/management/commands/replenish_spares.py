from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.services import spare_pool_replenish


class Command(BaseCommand):
    help = "Top up the pool of spare pre-migrated workspaces."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--target", type=int, default=None)

    def handle(self, *args: Any, target: int | None, **options: Any) -> None:
        created = spare_pool_replenish(target=target)
        self.stdout.write(f"Created {created} spare workspace(s).")
