"""`manage.py seed_demo`, what `make run` serves: the demo workspace with one member of each
role, a sign-in that works, and no banner asking the demo members to confirm an address that
receives no mail."""

from __future__ import annotations

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.test import Client

from tenants.management.commands.seed_demo import DEMO_OWNER, DEMO_PEOPLE
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tests.conftest import workspace_client

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    found = re.search(r"Password:\s+(\S+)", out.getvalue())
    assert found is not None, out.getvalue()
    return found.group(1)


def test_the_demo_has_every_role_signs_in_and_asks_no_confirmation() -> None:
    password = _seed()
    tenant = Tenant.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(tenant=tenant).values_list("user__email", "role"))
    assert roles == {DEMO_OWNER: Role.OWNER, **{email: role for _, email, role in DEMO_PEOPLE}}
    for email in roles:
        assert EmailAddress.objects.filter(email=email, verified=True, primary=True).exists()

    assert Client().login(username=DEMO_OWNER, password=password)
    page = workspace_client(User.objects.get(email=DEMO_OWNER), tenant).get("/")
    assert page.status_code == 200
    assert b'data-testid="verify-banner"' not in page.content

    # Seeding again keeps the one workspace and prints a new password that works.
    again = _seed()
    assert again != password
    assert Tenant.objects.filter(slug="demo").count() == 1
    assert Client().login(username=DEMO_OWNER, password=again)
    assert not Client().login(username=DEMO_OWNER, password=password)
