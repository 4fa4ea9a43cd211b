from __future__ import annotations

import pytest
from django.db import connection

from crm_modules.sales.models import Contact, ContactEmail
from tests.conftest import Workspace
from tests.sales.factories import ContactFactory
from tests.sales.conftest import fresh

__all__ = ["customer", "fresh"]


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    """Run the test's queries in workspace alpha's schema."""
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


def customer(email: str, **fields: object) -> Contact:
    """A contact with ``email`` as their primary (and only) address."""
    contact = ContactFactory.create(primary_email=email, **fields)
    ContactEmail.objects.create(contact=contact, email=email, is_primary=True)
    return contact
