"""A merge of a record that another person is editing at that moment: the merge waits for the
edit's row lock, then sees the change and refuses, so no edit is lost. Runs on the committed
test workspaces (real concurrent transactions) and removes what it made."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.sales.models import Contact, MergeRecord
from crm_modules.sales.services.merge import contacts_merge
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tests.conftest import Workspace, World
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory


def test_a_merge_waits_for_an_edit_and_refuses_what_it_did_not_see(
    world: World, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock():
        _race(world.alpha, world.alpha.tenant.schema_name)


def _race(alpha: Workspace, schema: str) -> None:
    with schema_context(schema):
        keep, gone = ContactFactory.create_batch(2, owner=alpha.owner.user)
    seen = {keep.pk: keep.updated_at, gone.pk: gone.updated_at}
    locked = threading.Event()
    outcome: dict[str, Any] = {}

    def edit() -> None:
        try:
            with schema_context(schema), transaction.atomic():
                row = Contact.objects.select_for_update().get(pk=gone.pk)
                locked.set()
                time.sleep(0.3)  # the merge is now waiting on this row
                row.job_title = "CEO"
                row.updated_at = timezone.now()
                row.save(update_fields=["job_title", "updated_at"])
        finally:
            connections.close_all()

    def merge() -> None:
        try:
            locked.wait()
            with schema_context(schema):
                contacts_merge(
                    actor=fresh(alpha.owner), survivor_id=keep.pk, other_ids=[gone.pk], seen=seen
                )
        except ServiceError as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit), threading.Thread(target=merge)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcome["error"].code == "conflict"
        with schema_context(schema):
            assert Contact.objects.get(pk=gone.pk).job_title == "CEO"
            assert not MergeRecord.objects.filter(survivor_id=keep.pk).exists()
    finally:
        with schema_context(schema):
            Contact.objects.filter(pk__in=[keep.pk, gone.pk]).delete()
            MergeRecord.objects.filter(survivor_id=keep.pk).delete()
            AuditEvent.objects.filter(action="contact.merged").delete()
