"""Indexes that need a PostgreSQL extension.

``TrigramIndex`` is the GIN trigram index behind substring search in any script (D20). Where
``pg_trgm`` is not installed — the embedded PostgreSQL that ``make run`` starts on a machine
without one — the index is skipped and search still answers, by a sequential scan; every real
server (RDS included) has the extension and gets the index.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.db import connection

CREATE_TRGM = (
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN "
    "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public; END IF; END $$;"
)


class TrigramIndex(GinIndex):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("opclasses", ["gin_trgm_ops"])
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        _path, args, kwargs = super().deconstruct()
        if kwargs.get("opclasses") == ["gin_trgm_ops"]:
            kwargs.pop("opclasses")
        return "crm_platform.indexes.TrigramIndex", args, kwargs

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        statement = str(super().create_sql(model, schema_editor, using=using, **kwargs))
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
