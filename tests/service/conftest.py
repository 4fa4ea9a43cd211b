from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Callable, Iterable

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm_modules.sales.models import Contact, ContactEmail
from crm_modules.service.models import PortalSession
from crm_modules.service.services import portal
from tests.conftest import Workspace
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory

__all__ = ["customer", "fresh", "portal_client", "sla_reapplies"]


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    """Run the test's queries in workspace alpha's schema."""
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


# A real S3 API for attachments stored through documents (moto's server, as documents' tests).
from tests.documents.conftest import s3_bucket  # noqa: E402
from tests.ops.conftest import s3_endpoint  # noqa: E402

__all__ += ["s3_bucket", "s3_endpoint"]


def sla_reapplies(callbacks: Iterable[Callable[[], object]]) -> int:
    """How many of a commit's callbacks send the SLA re-choice task. Callbacks registered
    once per commit are partials, which have no ``__qualname__``: none of them is it."""
    return sum("sla_reapply_later" in getattr(c, "__qualname__", "") for c in callbacks)


def customer(email: str, **fields: object) -> Contact:
    """A contact with ``email`` as their primary (and only) address."""
    contact = ContactFactory.create(primary_email=email, **fields)
    ContactEmail.objects.create(contact=contact, email=email, is_primary=True)
    return contact


def portal_client(workspace: Workspace, contact: Contact) -> Client:
    """A browser signed in to ``workspace``'s portal as ``contact`` (the portal cookie only)."""
    token = secrets.token_urlsafe(32)
    PortalSession.objects.create(
        contact=contact,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    client = Client(HTTP_HOST=workspace.host)
    client.cookies[portal.COOKIE_NAME] = token
    return client
