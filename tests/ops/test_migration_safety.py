"""Every migration is expand/contract (docs/operations.md, "Upgrading with zero downtime"): the
previous release keeps running against the new schema while a release rolls out.

Over the project's migrations, as Django's migration loader reads them, this rejects:

- an ``AddField`` of a NOT NULL column without ``db_default`` on an existing table: ``default``
  is Django's alone (the column's default is dropped right after it is added), so the previous
  release's inserts, which do not name the column, fail;
- ``RemoveField``, ``RenameField``, ``RenameModel`` and ``DeleteModel`` reaching the database:
  the previous release still reads and writes what they remove or rename. Removing a field
  from the state only (``SeparateDatabaseAndState`` with no database operation) is allowed.

A migration that does one of these on purpose — dropping a column in the release after the
code stopped using it — is listed in ``CONTRACT`` below with the release that stopped using it.
``PREDATE_RULE`` (tests/ops/migration_allowlist.py) lists the migrations written before this
rule; it only ever shrinks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation

from tests.ops.migration_allowlist import PREDATE_RULE

ROOT = Path(__file__).resolve().parents[2]

# (app label, migration name, offence) → why it is safe: the release that stopped using what
# it removes.
CONTRACT: dict[tuple[str, str, str], str] = {}

REMOVALS = (
    migrations.RemoveField,
    migrations.RenameField,
    migrations.RenameModel,
    migrations.DeleteModel,
)


def _database_operations(operations: Sequence[Operation]) -> list[Operation]:
    """What reaches the database: a ``SeparateDatabaseAndState``'s database side only."""
    found: list[Operation] = []
    for operation in operations:
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            found.extend(_database_operations(operation.database_operations))
        else:
            found.append(operation)
    return found


def _describe(operation: Operation) -> str:
    if isinstance(operation, migrations.RenameModel):
        return f"RenameModel {operation.old_name}->{operation.new_name}"
    if isinstance(operation, migrations.RenameField):
        return f"RenameField {operation.model_name}.{operation.old_name}->{operation.new_name}"
    if isinstance(operation, migrations.DeleteModel):
        return f"DeleteModel {operation.name}"
    model_name = getattr(operation, "model_name", "")
    return f"{type(operation).__name__} {model_name}.{getattr(operation, 'name', '')}"


def offences(migration: migrations.Migration) -> list[str]:
    """The operations of ``migration`` the previous release could not run against."""
    operations = _database_operations(list(migration.operations))
    created = {
        operation.name.lower()
        for operation in operations
        if isinstance(operation, migrations.CreateModel)
    }
    found = []
    for operation in operations:
        if isinstance(operation, migrations.AddField):
            field = operation.field
            new_table = operation.model_name.lower() in created
            if (
                not new_table
                and not field.null
                and not field.many_to_many
                and field.db_default is models.NOT_PROVIDED
            ):
                found.append(
                    f"AddField NOT NULL without db_default {operation.model_name}.{operation.name}"
                )
        elif isinstance(operation, REMOVALS):
            found.append(_describe(operation))
    return found


def project_offences() -> set[tuple[str, str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found: set[tuple[str, str, str]] = set()
    for (app_label, name), migration in loader.disk_migrations.items():
        module = Path(sys.modules[migration.__module__].__file__ or "")
        if ROOT not in module.parents or ".venv" in module.parts:
            continue  # third-party apps' migrations are theirs
        found.update((app_label, name, offence) for offence in offences(migration))
    return found


def test_no_migration_breaks_the_previous_release() -> None:
    allowed = PREDATE_RULE | CONTRACT.keys()

    assert sorted(project_offences() - allowed) == []


def test_the_allow_list_names_only_migrations_that_still_offend() -> None:
    # An entry whose migration was changed or removed goes, so the list never covers a new one.
    assert sorted((PREDATE_RULE | CONTRACT.keys()) - project_offences()) == []


def _synthetic(*operations: Operation) -> migrations.Migration:
    class Migration(migrations.Migration):
        pass

    Migration.operations = list(operations)
    return Migration("9999_synthetic", "sales")


def test_a_migration_that_breaks_the_previous_release_is_rejected() -> None:
    bad = _synthetic(
        migrations.AddField("contact", "nickname", models.CharField(max_length=50, default="")),
        migrations.AddField(
            "contact", "rank", models.IntegerField(default=0), preserve_default=False
        ),
        migrations.RemoveField("contact", "job_title"),
        migrations.RenameField("contact", "source", "acquisition_source"),
        migrations.RenameModel("Company", "Organisation"),
        migrations.DeleteModel("Tag"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RemoveField("contact", "notes")]
        ),
    )

    assert offences(bad) == [
        "AddField NOT NULL without db_default contact.nickname",
        "AddField NOT NULL without db_default contact.rank",
        "RemoveField contact.job_title",
        "RenameField contact.source->acquisition_source",
        "RenameModel Company->Organisation",
        "DeleteModel Tag",
        "RemoveField contact.notes",
    ]


def test_an_expand_migration_is_accepted() -> None:
    good = _synthetic(
        migrations.AddField(
            "contact",
            "nickname",
            models.CharField(max_length=50, blank=True, default="", db_default=""),
        ),
        migrations.AddField("contact", "referrer", models.CharField(max_length=50, null=True)),
        migrations.CreateModel("Badge", [("id", models.BigAutoField(primary_key=True))]),
        migrations.AddField("badge", "label", models.CharField(max_length=50)),
        # The contract step of a drop: the field leaves the state, the column stays.
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("contact", "notes")]
        ),
    )

    assert offences(good) == []


def test_each_contract_migration_says_why_it_is_safe() -> None:
    assert [entry for entry, reason in CONTRACT.items() if not reason.strip()] == []
