"""The proof that a refused request changed nothing (``unchanged``): every kind of write in the
public schema and the workspace's is seen — and only there, a write in another workspace is
not this workspace's change — while a write undone within the block (an insert a constraint
refused, rolled back to its savepoint) leaves nothing to see."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.sales.models import Contact
from tenants.models import Membership
from tests.conftest import Workspace
from tests.isolation.conftest import unchanged, write_counts


def test_each_write_here_is_counted_and_the_visit_stamp_is_not(
    alpha: Workspace, bravo: Workspace
) -> None:
    before = write_counts(alpha)
    # What a signed-in visit writes by design.
    Membership.objects.filter(pk=alpha.owner.pk).update(last_seen_at=timezone.now())
    assert write_counts(alpha) == before
    # Another workspace's rows are not this one's.
    with schema_context(bravo.tenant.schema_name):
        Contact.objects.create(first_name="Bravo")
    assert write_counts(alpha) == before

    with schema_context(alpha.tenant.schema_name):
        contact = Contact.objects.create(first_name="Алиса")
    assert write_counts(alpha) != before
    before = write_counts(alpha)
    with schema_context(alpha.tenant.schema_name):
        # An update that leaves the row as it was is still a write.
        Contact.objects.filter(pk=contact.pk).update(first_name="Алиса")
    assert write_counts(alpha) != before
    before = write_counts(alpha)
    Membership.objects.filter(pk=alpha.owner.pk).update(role="admin")
    assert write_counts(alpha) != before


def test_a_write_undone_within_the_block_is_no_change_and_a_kept_one_is(
    alpha: Workspace,
) -> None:
    with schema_context(alpha.tenant.schema_name):
        contact = Contact.objects.create(first_name="สมชาย")
        with unchanged(alpha):
            try:
                with transaction.atomic():
                    Contact.objects.filter(pk=contact.pk).delete()
                    raise RuntimeError("rolled back to the savepoint")
            except RuntimeError:
                pass
            # A write that leaves every row as it was.
            Contact.objects.filter(pk=contact.pk).update(first_name="สมชาย")
        with pytest.raises(AssertionError), unchanged(alpha):
            Contact.objects.filter(pk=contact.pk).update(first_name="王芳")
        with pytest.raises(AssertionError), unchanged(alpha):
            Membership.objects.filter(pk=alpha.owner.pk).update(role="admin")
