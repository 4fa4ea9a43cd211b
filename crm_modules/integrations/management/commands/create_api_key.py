"""Print a new API key for a member of a workspace: create_api_key <slug> <email> --name N."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm_modules.integrations.services import api_key_create
from crm_platform.errors import ServiceError
from tenants.models import Membership


class Command(BaseCommand):
    help = "Create an API key acting as a member of a workspace and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--name", required=True)
        parser.add_argument("--read-only", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        member = (
            Membership.objects.filter(
                tenant__slug=options["slug"], user__email__iexact=options["email"]
            )
            .select_related("tenant", "user")
            .first()
        )
        if member is None or not member.is_active:
            raise CommandError("No active member with that email in that workspace.")
        connection.set_tenant(member.tenant)  # type: ignore[attr-defined]
        try:
            # The command runs as the member's workspace Owner would: an operator's action.
            owner = Membership.objects.select_related("tenant", "user").get(
                tenant=member.tenant, role="owner"
            )
            new = api_key_create(
                actor=owner, name=options["name"], read_only=options["read_only"], owner=member
            )
        except ServiceError as error:
            raise CommandError(error.message) from error
        finally:
            connection.set_schema_to_public()  # type: ignore[attr-defined]
        self.stdout.write(new.raw)
