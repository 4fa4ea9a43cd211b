"""The trigram indexes behind search in any script exist wherever pg_trgm does (D20); on a
server without the extension (the embedded PostgreSQL of `make run` and `make test`) they are
left out and migrations still succeed."""

from __future__ import annotations

from django.db import connection

from tests.conftest import Workspace

SEARCH_INDEXES = [
    "article_search",
    "article_title_search",
    "company_search",
    "contact_search",
    "deal_search",
    "lead_search",
]


def test_search_columns_have_trigram_indexes_exactly_when_the_extension_exists(
    alpha: Workspace,
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        has_trgm = cursor.fetchone() is not None
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
            " AND indexname LIKE %s ORDER BY indexname",
            [alpha.tenant.schema_name, "%\\_search"],
        )
        found = dict(cursor.fetchall())
    assert sorted(found) == (SEARCH_INDEXES if has_trgm else [])
    assert all("gin_trgm_ops" in definition for definition in found.values())
