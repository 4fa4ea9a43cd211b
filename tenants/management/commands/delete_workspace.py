from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Tenant
from tenants.services import workspace_delete


class Command(BaseCommand):
    help = "Delete a workspace: drop its schema, domains, memberships and invitations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, slug: str, yes: bool, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No workspace with the address {slug!r}.")
        if not yes:
            answer = input(f"Delete {tenant.name} ({slug}) and all its data? Type the address: ")
            if answer.strip() != slug:
                raise CommandError("Not confirmed; nothing was deleted.")
        workspace_delete(tenant=tenant, actor=None)
        self.stdout.write(self.style.SUCCESS(f"Deleted workspace {slug} ({tenant.schema_name})."))
