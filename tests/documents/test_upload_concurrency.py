"""Two uploads that each fit in what is left of the storage quota, but not together, complete
at the same moment: the workspace's storage lock serialises the completions, the second sees
the bytes the first recorded and is refused, its object deleted. Runs on the committed test
workspace (real concurrent transactions) and removes what it made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.quota import storage_quota_bytes, storage_used_bytes
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tests.concurrency import race
from tests.conftest import World
from tests.documents.conftest import put
from tests.sales.conftest import fresh


def test_uploads_completing_at_once_cannot_overshoot_the_quota(
    world: World, django_db_blocker: Any, s3_bucket: str
) -> None:
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    names = ("Первый.txt", "第二.txt")
    with django_db_blocker.unblock():
        try:
            with schema_context(schema):
                quota = storage_quota_bytes(alpha.tenant)
                assert quota is not None
                filler = Document.objects.create(
                    name="filler.bin", content_type="text/plain", size=1
                )
                DocumentVersion.objects.create(
                    document=filler,
                    number=1,
                    key="k",
                    size=quota - storage_used_bytes() - 150,
                    content_type="text/plain",
                )
                tickets = []
                for name in names:
                    ticket = services.document_upload_start(
                        actor=alpha.owner, name=name, content_type="text/plain", size=100
                    )
                    assert put(ticket, b"x" * 100).status_code == 200
                    tickets.append(ticket.ticket)

            def complete(ticket: str) -> Callable[[Callable[[], object]], str]:
                def run(go: Callable[[], object]) -> str:
                    actor = fresh(alpha.owner)
                    go()
                    try:
                        services.document_upload_complete(actor=actor, ticket=ticket)
                    except ServiceError as refused:
                        return f"refused: {refused.field}"
                    return "completed"

                return run

            results = race([complete(ticket) for ticket in tickets], schema=schema)

            assert sorted(results) == ["completed", "refused: size"]
            with schema_context(schema):
                recorded = list(Document.objects.filter(name__in=names))
                assert len(recorded) == 1
                assert storage_used_bytes() == quota - 50
                kept = recorded[0].versions.get().key
                assert [o["key"] for o in s3.workspace_objects(schema_name=schema)] == [kept]
                assert (
                    AuditEvent.objects.filter(
                        action="document.uploaded", target_repr__in=names
                    ).count()
                    == 1
                )
        finally:
            with schema_context(schema):
                Document.objects.filter(name__in=[*names, "filler.bin"]).delete()
                AuditEvent.objects.filter(action__startswith="document.").delete()
