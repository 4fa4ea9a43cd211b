from django.utils import timezone

from tenants.models import User
from tenants.roles import Role
from tests.conftest import public_client, workspace_client
from tests.factories import UserFactory


def test_preferences_save_language_and_time_zone(world, db):
    user = UserFactory.create(full_name="Old Name")
    client = public_client(user)
    response = client.post(
        "/account/preferences/",
        {"full_name": "王芳", "language": "zh-hans", "time_zone": "Asia/Shanghai"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.language, user.time_zone) == ("王芳", "zh-hans", "Asia/Shanghai")


def test_preferences_reject_unknown_values_naming_the_field(world, db):
    user = UserFactory.create(full_name="Kept")
    client = public_client(user)
    for field, value in (("language", "klingon"), ("time_zone", "Mars/Olympus"), ("full_name", "")):
        data = {"full_name": "New", "language": "", "time_zone": "", field: value}
        response = client.post("/account/preferences/", data)
        assert response.status_code == 400
        assert field in response.context["form"].errors
    user.refresh_from_db()
    assert (user.full_name, user.language, user.time_zone) == ("Kept", "", "")


def test_chosen_language_wins_over_the_browser(alpha):
    member = alpha.members[Role.SALES_REP]
    User.objects.filter(pk=member.user_id).update(language="ru")
    member.user.refresh_from_db()
    client = workspace_client(member.user, alpha.tenant)
    response = client.get("/roles/", HTTP_ACCEPT_LANGUAGE="it")
    assert response.status_code == 200
    assert response["Content-Language"] == "ru"


def test_user_time_zone_overrides_the_workspace_default(alpha):
    member = alpha.members[Role.SALES_REP]
    User.objects.filter(pk=member.user_id).update(time_zone="Asia/Bangkok")
    member.user.refresh_from_db()
    client = workspace_client(member.user, alpha.tenant)
    response = client.get("/roles/")
    assert response.status_code == 200
    assert str(timezone.get_current_timezone()) != "Asia/Bangkok"  # deactivated after the request
    assert response.context["TIME_ZONE"] == "Asia/Bangkok"


def test_switching_language_in_the_footer_saves_it_for_a_signed_in_person(world, db):
    user = UserFactory.create(language="ru")
    client = public_client(user)
    response = client.post("/i18n/setlang/", {"language": "it", "next": "/pricing/"})
    assert response.status_code == 302
    assert response["Location"] == "/pricing/"
    user.refresh_from_db()
    assert user.language == "it"
    assert client.get("/pricing/")["Content-Language"] == "it"


def test_switching_to_an_unknown_language_saves_nothing(world, db):
    user = UserFactory.create(language="ru")
    client = public_client(user)
    client.post("/i18n/setlang/", {"language": "de", "next": "/pricing/"})
    user.refresh_from_db()
    assert user.language == "ru"


def test_a_users_time_zone_does_not_outlive_their_request_on_the_public_host(world, db):
    user = UserFactory.create(time_zone="Asia/Bangkok")
    response = public_client(user).get("/workspaces/")
    assert response.context["TIME_ZONE"] == "Asia/Bangkok"
    # The next request served by this thread, anyone's, starts from the default zone.
    assert timezone.get_current_timezone_name() == "UTC"
    anonymous = public_client().get("/pricing/")
    assert anonymous.context["TIME_ZONE"] == "UTC"
