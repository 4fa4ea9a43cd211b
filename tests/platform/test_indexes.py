"""The trigram indexes behind search in any script exist wherever pg_trgm does (D20)."""

from __future__ import annotations

from django.db import connection

from tests.conftest import Workspace


def test_search_columns_have_trigram_indexes_when_the_extension_exists(alpha: Workspace) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None  # the servers this suite runs on have it
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
            " AND indexname LIKE %s ORDER BY indexname",
            [alpha.tenant.schema_name, "%\\_search"],
        )
        found = dict(cursor.fetchall())
    assert sorted(found) == ["company_search", "contact_search", "deal_search", "lead_search"]
    assert all("gin_trgm_ops" in definition for definition in found.values())
