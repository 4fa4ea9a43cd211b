"""factory_boy factories for platform rows. Workspaces themselves are provisioned through the
real service (tests/conftest.py), never faked."""

from __future__ import annotations

import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from tenants.models import Invitation, Membership, User
from tenants.roles import Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}-{secrets.token_hex(3)}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.SALES_REP


class InvitationFactory(factory.django.DjangoModelFactory[Invitation]):
    class Meta:
        model = Invitation

    email = factory.Sequence(lambda n: f"invitee{n}-{secrets.token_hex(3)}@example.com")
    role = Role.SALES_REP
    nonce = factory.LazyFunction(lambda: secrets.token_urlsafe(16))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
