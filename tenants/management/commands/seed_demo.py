"""Create the demo workspace `demo` with one member of each role and print the owner login."""

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants import services
from tenants.hosts import public_url, workspace_url
from tenants.models import Membership, Tenant, User
from tenants.modules import demo_seeders
from tenants.roles import Role

DEMO_SLUG = "demo"
DEMO_OWNER = "owner@demo.rapport.localhost"
DEMO_PEOPLE = [
    ("Giulia Romano", "admin@demo.rapport.localhost", Role.ADMIN),
    ("Иван Петров", "manager@demo.rapport.localhost", Role.MANAGER),
    ("สมชาย ใจดี", "sales@demo.rapport.localhost", Role.SALES_REP),
    ("王芳", "support@demo.rapport.localhost", Role.SUPPORT_AGENT),
    ("Marta Rossi", "marketing@demo.rapport.localhost", Role.MARKETER),
    ("Read Only", "viewer@demo.rapport.localhost", Role.READ_ONLY),
]


class Command(BaseCommand):
    help = "Create the demo workspace (idempotent) and print its sign-in details."

    def handle(self, *args: Any, **options: Any) -> None:
        password = "demo-" + secrets.token_urlsafe(9)
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is None:
            result = services.workspace_signup(
                company_name="Demo Company",
                slug=DEMO_SLUG,
                full_name="Dana Owner",
                email=DEMO_OWNER,
                password=password,
            )
            tenant = result.tenant
            with transaction.atomic():
                for full_name, email, role in DEMO_PEOPLE:
                    user = User.objects.create_user(email, password, full_name=full_name)
                    Membership.objects.create(user=user, tenant=tenant, role=role)
        else:
            # Re-running resets the demo passwords so the printed login always works.
            for user in User.objects.filter(memberships__tenant=tenant):
                user.set_password(password)
                user.save(update_fields=["password"])
        # The demo addresses receive no mail: they count as confirmed, so no banner asks for it.
        for user in User.objects.filter(memberships__tenant=tenant):
            EmailAddress.objects.update_or_create(
                user=user, email=user.email, defaults={"verified": True, "primary": True}
            )
        for seed in demo_seeders():
            seed(tenant=tenant)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "  Rapport is ready.",
                    f"  Public site:     {public_url('/')}",
                    f"  Demo workspace:  {workspace_url(DEMO_SLUG, '/')}",
                    f"  Sign in as:      {DEMO_OWNER}",
                    f"  Password:        {password}",
                    "  (every demo member — admin@, manager@, sales@, support@, marketing@, viewer@"
                    " demo.rapport.localhost — has the same password)",
                    "",
                ]
            )
        )
