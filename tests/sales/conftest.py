from __future__ import annotations

import pytest
from django.db import connection

from tenants.models import Membership
from tests.conftest import Workspace


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    """Run the test's queries in workspace alpha's schema."""
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


def fresh(membership: Membership) -> Membership:
    """A copy to use as the actor: the workspace fixtures are shared by the whole run."""
    return Membership.objects.select_related("tenant", "user").get(pk=membership.pk)


def sales_events() -> list[str]:
    """The sales audit actions recorded in the current schema, oldest first."""
    from tenants.audit.actions import all_actions
    from tenants.audit.models import AuditEvent

    codes = [a.code for a in all_actions() if a.code.split(".")[0] in SALES_PREFIXES]
    return list(
        AuditEvent.objects.filter(action__in=codes).order_by("id").values_list("action", flat=True)
    )


SALES_PREFIXES = {"company", "contact", "consent", "lead", "pipeline", "deal", "task"}
