"""Write one workspace's backup archive (operator CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_platform.backups import BackupError, default_archive_name, workspace_export


class Command(BaseCommand):
    help = (
        "Export one workspace (schema data, platform rows, documents manifest; with --with-files "
        "the files too) to an archive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--output", "-o", help="archive path (default: <slug>-<time>.tar.gz)")
        parser.add_argument(
            "--with-files",
            action="store_true",
            help="also put the workspace's files (its objects in S3) into the archive",
        )

    def handle(
        self, *args: Any, slug: str, output: str | None, with_files: bool, **options: Any
    ) -> None:
        path = Path(output or default_archive_name(slug))
        if path.exists():
            raise CommandError(f"{path} exists; choose another --output.")
        try:
            manifest = workspace_export(slug=slug, output=path, with_files=with_files)
        except BackupError as exc:
            path.unlink(missing_ok=True)
            raise CommandError(str(exc)) from exc
        rows = sum(table["rows"] for table in manifest["tables"].values())
        self.stdout.write(
            f"Wrote {path}: schema {manifest['schema_name']}, {len(manifest['tables'])} tables, "
            f"{rows} rows, {len(manifest['memberships'])} memberships, "
            f"{len(manifest['documents'])} documents listed, {len(manifest['files'])} files "
            "archived."
        )
