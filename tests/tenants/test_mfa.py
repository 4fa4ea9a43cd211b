"""Sign-in with TOTP two-factor authentication and recovery codes (allauth.mfa)."""

from __future__ import annotations

import time

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.conf import settings

from tests.conftest import public_client
from tests.factories import PASSWORD, UserFactory


def _current_code(secret: str) -> str:
    counter = int(time.time()) // 30
    return str(format_hotp_value(hotp_value(secret, counter)))


def _start_login(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    # Password alone does not sign in.
    assert "_auth_user_id" not in client.session
    return response


def test_totp_user_is_signed_in_only_after_a_valid_code(world, db):
    user = UserFactory.create()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = public_client()
    _start_login(client, user)

    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert "Incorrect code." in wrong.content.decode()
    assert "_auth_user_id" not in client.session

    right = client.post("/accounts/2fa/authenticate/", {"code": _current_code(secret)})
    assert right.status_code == 302
    assert right["Location"] == "/workspaces/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_recovery_code_signs_in_once(world, db):
    user = UserFactory.create()
    TOTP.activate(user, generate_totp_secret())
    code = RecoveryCodes.activate(user).get_unused_codes()[0]

    first = public_client()
    _start_login(first, user)
    assert first.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert first.session["_auth_user_id"] == str(user.pk)

    second = public_client()
    _start_login(second, user)
    reused = second.post("/accounts/2fa/authenticate/", {"code": code})
    assert reused.status_code == 200
    assert "_auth_user_id" not in second.session


def test_session_cookie_is_host_only_and_http_only(world, db):
    user = UserFactory.create()
    client = public_client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["domain"] == ""
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_setting_up_totp_shows_a_qr_code_and_creates_recovery_codes(world, db):
    from allauth.mfa.models import Authenticator

    user = UserFactory.create()
    client = public_client(user)
    # Changing security settings asks for the password again first.
    asked = client.get("/accounts/2fa/totp/activate/")
    assert asked["Location"].startswith("/accounts/reauthenticate/")
    client.post(asked["Location"], {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    body = page.content.decode()
    # The QR code is drawn on the server as an inline image: no third-party image service.
    assert 'src="data:image/svg+xml;base64,' in body
    secret = page.context["form"].secret

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()

    done = client.post("/accounts/2fa/totp/activate/", {"code": _current_code(secret)})
    assert done.status_code == 302
    kinds = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    assert kinds == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
