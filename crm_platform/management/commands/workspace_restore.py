"""Restore a workspace archive as a new workspace or over an existing one (operator CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_platform.backups import BackupError, workspace_restore


class Command(BaseCommand):
    help = (
        "Restore an archive written by workspace_export: as a new workspace (its own address, "
        "or --slug), or with --replace over the existing workspace at that address."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive")
        parser.add_argument("--slug", help="restore under this address instead")
        parser.add_argument(
            "--replace", action="store_true", help="replace the data of the existing workspace"
        )

    def handle(
        self, *args: Any, archive: str, slug: str | None, replace: bool, **options: Any
    ) -> None:
        try:
            result = workspace_restore(archive=Path(archive), slug=slug, replace=replace)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {result.tenant.slug} (schema {result.tenant.schema_name}): "
            f"{result.tables} tables, {result.rows} rows verified, "
            f"{result.memberships} memberships, {result.objects_copied} files copied to its "
            f"prefix, {result.objects_uploaded} uploaded from the archive."
        )
        if result.missing_objects:
            self.stderr.write(
                "Not in the bucket any more, file not restored: "
                + ", ".join(result.missing_objects)
            )
        if result.skipped_members:
            self.stderr.write(
                "No account here any more, seat not restored: " + ", ".join(result.skipped_members)
            )
