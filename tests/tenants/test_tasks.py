from datetime import timedelta

from django.utils import timezone

from tenants.models import UserSession
from tenants.tasks import clear_expired_sessions
from tests.conftest import public_client
from tests.factories import UserFactory


def test_expired_sessions_are_cleared_and_live_ones_kept(world, db):
    user = UserFactory.create()
    live = public_client(user)
    stale = public_client(user)
    stale_key = stale.session.session_key
    UserSession.objects.filter(session_key=stale_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    clear_expired_sessions.delay()

    assert not UserSession.objects.filter(session_key=stale_key).exists()
    assert UserSession.objects.filter(session_key=live.session.session_key).exists()
