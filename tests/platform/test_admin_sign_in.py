"""The platform admin has no sign-in of its own: /admin/login/ leads to allauth's sign-in
(second factor, rate limits), and only superusers with two-factor authentication, signed in
with it, get in."""

from __future__ import annotations

import time

from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)

from tests.conftest import public_client
from tests.factories import PASSWORD
from tests.platform.staff import staff_client, superuser


def _code(secret: str) -> str:
    return str(format_hotp_value(hotp_value(secret, int(time.time()) // 30)))


def test_admin_login_page_is_allauths_sign_in(world, db):
    response = public_client().get("/admin/login/?next=/admin/tenants/tenant/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Ftenants%2Ftenant%2F"


def test_admin_login_form_never_signs_in_with_a_password(world, db):
    user = superuser()
    client = public_client()
    for _attempt in range(12):
        client.post("/admin/login/", {"username": user.email, "password": "wrong-password"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_superuser_signs_in_to_the_admin_through_password_and_totp(world, db):
    user = superuser(mfa=False)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = public_client()
    step = client.post("/accounts/login/?next=/admin/", {"login": user.email, "password": PASSWORD})
    assert step["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    done = client.post("/accounts/2fa/authenticate/", {"code": _code(secret)})
    assert done.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_superuser_without_mfa_is_sent_to_set_it_up(world, db):
    client = staff_client(superuser(mfa=False), signed_in_with_mfa=False)
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
    assert client.get("/admin/login/?next=/admin/")["Location"] == "/accounts/2fa/totp/activate/"
    assert client.get("/admin/tenants/tenant/").status_code == 302


def test_superuser_signed_in_without_the_second_factor_must_confirm_it(world, db):
    client = staff_client(superuser(), signed_in_with_mfa=False)
    assert client.get("/admin/").status_code == 302
    assert (
        client.get("/admin/login/?next=/admin/")["Location"]
        == "/accounts/2fa/reauthenticate/?next=%2Fadmin%2F"
    )


def test_signed_in_non_superuser_is_refused_without_a_loop(world, db):
    from tests.factories import UserFactory

    client = public_client(UserFactory.create(is_staff=True))
    assert client.get("/admin/login/?next=/admin/").status_code == 403
