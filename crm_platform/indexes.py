"""Indexes that need a PostgreSQL extension.

``TrigramIndex`` is the GIN trigram index behind substring search in any script (D20). Where
``pg_trgm`` is not installed — the embedded PostgreSQL that ``make run`` starts on a machine
without one — the index is skipped and search still answers, by a sequential scan; every real
server (RDS included) has the extension and gets the index.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import connection
from django.db.migrations.operations import AddIndex
from django.db.models import OrderBy
from django.db.models.functions import Collate
from django.db.models.indexes import IndexExpression

# What django.contrib.postgres registers when it is installed (it is not, here): an index on
# an expression names its operator class with OpClass, which must not be wrapped in brackets.
IndexExpression.register_wrappers(OrderBy, OpClass, Collate)

CREATE_TRGM = (
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN "
    "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public; END IF; END $$;"
)


class TrigramIndex(GinIndex):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args:  # an index on an expression names its operator class with OpClass
            kwargs.setdefault("opclasses", ["gin_trgm_ops"])
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        _path, args, kwargs = super().deconstruct()
        if kwargs.get("opclasses") == ["gin_trgm_ops"]:
            kwargs.pop("opclasses")
        return "crm_platform.indexes.TrigramIndex", args, kwargs

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        statement = str(super().create_sql(model, schema_editor, using=using, **kwargs))
        if kwargs.get("concurrently"):
            # CREATE INDEX CONCURRENTLY cannot run inside the guard's DO block: the extension
            # is looked up first instead.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
                found = cursor.fetchone() is not None
            return statement if found else "SELECT 1"
        # The statement is Django's own CREATE INDEX, built from model metadata, not input.
        quoted = statement.replace("'", "''")
        guard = "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') "
        return guard + f"THEN EXECUTE '{quoted}'; END IF; END $$;"

    def remove_sql(self, model: Any, schema_editor: Any, **kwargs: Any) -> Any:
        return f"DROP INDEX IF EXISTS {schema_editor.quote_name(self.name)}"


def trigram_available() -> bool:
    """Whether pg_trgm is installed in this database (it lives in the public schema); read
    once per connection."""
    cache: dict[str, bool] = connection.__dict__.setdefault("_rapport_trgm", {})
    if "ok" not in cache:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            cache["ok"] = cursor.fetchone() is not None
    return cache["ok"]


class AddIndexUnlocked(AddIndex):
    """``AddIndex`` that builds with CREATE INDEX CONCURRENTLY (writes go on while a large
    table is indexed; docs/operations.md) in a non-atomic migration, and plainly when the
    migration runs inside a transaction — a workspace being provisioned, whose tables are new
    and whose creation must stay one transaction."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        concurrently = not schema_editor.connection.in_atomic_block
        schema_editor.add_index(model, self.index, concurrently=concurrently)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        concurrently = not schema_editor.connection.in_atomic_block
        schema_editor.remove_index(model, self.index, concurrently=concurrently)
