"""Migrate the public schema, then every workspace schema in parallel (operator CLI)."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm_platform.schema_migration_worker import SchemaOutcome
from crm_platform.schema_migrations import (
    MigrationRunLocked,
    StopFlag,
    install_stop_handlers,
    migrate_all_schemas,
    running_in_terminal,
)

EXIT_FAILED = 1
EXIT_INTERRUPTED = 3


class Command(BaseCommand):
    help = (
        "Apply migrations to the public schema, then to every workspace schema with a bounded "
        "pool of worker processes. Resumable: a rerun skips what is done and retries failures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=4, help="parallel schemas (4)")
        parser.add_argument("--lock-timeout", default="5s", help="per statement (5s)")
        parser.add_argument("--statement-timeout", default="0", help="per statement; 0 = none (0)")
        parser.add_argument(
            "--retries", type=int, default=1, help="extra rounds for failed schemas (1)"
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait for a run in progress instead of refusing"
        )
        parser.add_argument("--skip-public", action="store_true", help="workspace schemas only")
        parser.add_argument("--schema", action="append", dest="schemas", help="only these")

    def handle(self, *args: Any, **options: Any) -> None:
        workers: int = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        stop = StopFlag()
        install_stop_handlers(stop)
        terminal = running_in_terminal()

        def progress(outcome: SchemaOutcome, done: int, total: int) -> None:
            if terminal:
                width = 30
                filled = width * done // max(total, 1)
                sys.stderr.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                    f"{outcome.schema_name[:30]:<30}"
                )
                sys.stderr.flush()
            else:
                self._event(
                    "schema_migrated" if outcome.ok else "schema_failed",
                    terminal=False,
                    schema=outcome.schema_name,
                    applied=outcome.applied,
                    seconds=round(outcome.seconds, 3),
                    error=outcome.error or None,
                    done=done,
                    total=total,
                )

        def migrate_public() -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, false)", [options["lock_timeout"]]
                )
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
            self._event("public_migrated", terminal=terminal)

        try:
            report = migrate_all_schemas(
                before=None if options["skip_public"] else migrate_public,
                workers=workers,
                lock_timeout=options["lock_timeout"],
                statement_timeout=options["statement_timeout"],
                retries=options["retries"],
                wait_for_lock=options["wait"],
                schema_names=options["schemas"],
                on_outcome=progress,
                stop=stop,
            )
        except MigrationRunLocked as exc:
            raise CommandError(str(exc)) from exc
        if terminal:
            sys.stderr.write("\n")

        self._event(
            "run_finished",
            terminal=terminal,
            schemas=report.total,
            skipped=report.skipped,
            migrated=len(report.migrated),
            failed=len(report.failed),
            not_started=len(report.not_started),
            interrupted=report.interrupted,
            seconds=round(report.seconds, 2),
        )
        for schema_name, error in sorted(report.failed.items()):
            self.stderr.write(f"FAILED {schema_name}: {error}")
        if report.interrupted:
            self.stderr.write(
                f"Interrupted: {len(report.not_started)} schema(s) not migrated yet. "
                "Run migrate_all again to resume."
            )
            sys.exit(EXIT_INTERRUPTED)
        if report.failed:
            self.stderr.write(
                f"{len(report.failed)} schema(s) failed; the others are migrated. Fix the "
                "cause and run migrate_all again: it retries only what is not done."
            )
            sys.exit(EXIT_FAILED)

    def _event(self, event: str, *, terminal: bool, **fields: Any) -> None:
        if terminal:
            details = " ".join(f"{key}={value}" for key, value in fields.items())
            self.stdout.write(f"{event} {details}".strip())
        else:
            self.stdout.write(json.dumps({"event": event, **fields}, default=str))
