"""Platform staff as the admin requires them: a superuser with TOTP set up whose session signed
in with it."""

from __future__ import annotations

import time

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django import forms
from django.test import Client

from tenants.models import User
from tests.conftest import public_client
from tests.factories import UserFactory


def superuser(*, mfa: bool = True) -> User:
    user: User = UserFactory.create(is_staff=True, is_superuser=True)
    if mfa:
        TOTP.activate(user, generate_totp_secret())
    return user


def staff_client(user: User | None = None, *, signed_in_with_mfa: bool = True) -> Client:
    user = user or superuser()
    client = public_client(user)
    if signed_in_with_mfa:
        # What allauth records when the sign-in passes its password and TOTP steps.
        session = client.session
        now = time.time()
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {"method": "password", "at": now, "email": user.email},
            {"method": "mfa", "at": now, "type": "totp"},
        ]
        session["account_authentication_methods_user"] = str(user.pk)
        session.save()
    return client


def admin_edit(client, url: str, **changes: object):
    """Submit the admin's change form as shown, with changes: every field it offers keeps its
    current value, so only the changes (if the form accepts them) can take effect."""
    form = client.get(url).context["adminform"].form
    data: dict[str, object] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.SplitDateTimeField):
            value = form.initial.get(name)
            data[f"{name}_0"] = value.date().isoformat() if value else ""
            data[f"{name}_1"] = value.time().isoformat() if value else ""
        elif isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        data[name] = value
    return client.post(url, data)
