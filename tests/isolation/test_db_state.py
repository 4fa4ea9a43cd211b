"""The proof that a refused request changed nothing (``db_state``) sees every kind of write in
the public schema and the workspace's — and only there: a write in another workspace is not
this workspace's change."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.sales.models import Contact
from tenants.models import Membership
from tests.conftest import Workspace
from tests.isolation.conftest import db_state


def test_each_write_here_changes_the_state_and_the_visit_stamp_does_not(
    alpha: Workspace, bravo: Workspace
) -> None:
    before = db_state(alpha)
    # What a signed-in visit writes by design.
    Membership.objects.filter(pk=alpha.owner.pk).update(last_seen_at=timezone.now())
    assert db_state(alpha) == before
    # Another workspace's rows are not this one's.
    with schema_context(bravo.tenant.schema_name):
        Contact.objects.create(first_name="Bravo")
    assert db_state(alpha) == before

    with schema_context(alpha.tenant.schema_name):
        contact = Contact.objects.create(first_name="Алиса")
    assert db_state(alpha) != before
    before = db_state(alpha)
    with schema_context(alpha.tenant.schema_name):
        # An update that leaves the row as it was is still a write.
        Contact.objects.filter(pk=contact.pk).update(first_name="Алиса")
    assert db_state(alpha) != before
    before = db_state(alpha)
    with schema_context(alpha.tenant.schema_name):
        try:
            with transaction.atomic():
                Contact.objects.filter(pk=contact.pk).delete()
                raise RuntimeError("rolled back to the savepoint")
        except RuntimeError:
            pass
    assert db_state(alpha) != before
    before = db_state(alpha)
    Membership.objects.filter(pk=alpha.owner.pk).update(role="admin")
    assert db_state(alpha) != before
