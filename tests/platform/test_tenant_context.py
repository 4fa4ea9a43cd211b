"""Tenant context survives every hop that does not go through the HTTP middleware (D6): the
cache, Celery workers, email sent after commit, and the channel layer. Each of these silently
falls back to the public schema when the context is forgotten, so every test here compares two
workspaces and fails if one could see the other's data."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from celery.contrib.testing.worker import start_worker
from channels.layers import get_channel_layer
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.db import connection, transaction
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

import crm_platform
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Invitation
from tenants.notifications import notify_user, user_group
from tenants.roles import Role
from tests.conftest import Workspace, World

PROBE_KEY_PREFIX = "rapport-test:probe-schema:"


@crm_platform.celery_app.task(name="tests.platform.record_schema")
def record_schema(probe: str) -> None:
    """Write the schema the worker's database connection is set to where the test can read it."""
    schema_name = connection.schema_name  # type: ignore[attr-defined]
    get_redis_connection("default").set(PROBE_KEY_PREFIX + probe, schema_name, ex=60)


def _wait_for_probe(probe: str, *, timeout: float = 20.0) -> str | None:
    redis = get_redis_connection("default")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = redis.get(PROBE_KEY_PREFIX + probe)
        if value is not None:
            return bytes(value).decode()
        time.sleep(0.05)
    return None


# --- cache ---------------------------------------------------------------------------------


def test_cache_entries_are_per_workspace(alpha: Workspace, bravo: Workspace) -> None:
    with schema_context(alpha.tenant.schema_name):
        cache.set("k", "a")
        assert cache.get("k") == "a"
    with schema_context(bravo.tenant.schema_name):
        assert cache.get("k") is None
        cache.set("k", "b")
    with schema_context(alpha.tenant.schema_name):
        assert cache.get("k") == "a"
    with schema_context(bravo.tenant.schema_name):
        assert cache.get("k") == "b"
    assert cache.get("k") is None  # the public schema has its own namespace too

    raw_keys = sorted(bytes(key).decode() for key in get_redis_connection("default").keys("*:k"))
    assert raw_keys == sorted(
        [f"{alpha.tenant.schema_name}::1:k", f"{bravo.tenant.schema_name}::1:k"]
    )


# --- Celery --------------------------------------------------------------------------------


@pytest.fixture
def celery_worker_thread(django_db_blocker: Any) -> Any:
    """A real worker consuming from the test Redis broker, in a thread of this process."""
    app = crm_platform.celery_app
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    assert app.conf.broker_url == settings.REDIS_URL
    with django_db_blocker.unblock():
        # No stale messages from earlier runs, on any queue.
        get_redis_connection("default").delete("celery", "interactive", "bulk")
        try:
            with start_worker(app, pool="solo", perform_ping_check=False) as worker:
                yield worker
        finally:
            app.conf.task_always_eager = eager
            connection.close()


def test_celery_task_runs_in_the_schema_it_was_sent_from(
    world: World, celery_worker_thread: Any, django_db_blocker: Any
) -> None:
    probes = {
        world.alpha.tenant.schema_name: secrets.token_hex(8),
        world.bravo.tenant.schema_name: secrets.token_hex(8),
    }
    public_probe = secrets.token_hex(8)
    with django_db_blocker.unblock():
        for schema_name, probe in probes.items():
            with schema_context(schema_name):
                record_schema.delay(probe)
        record_schema.delay(public_probe)

        seen = {schema_name: _wait_for_probe(probe) for schema_name, probe in probes.items()}
        seen_public = _wait_for_probe(public_probe)

    assert seen == {schema_name: schema_name for schema_name in probes}
    assert seen_public == "public"


# --- email after commit --------------------------------------------------------------------


def test_invitation_email_is_sent_only_after_commit(
    world: World, django_db_blocker: Any, settings: Any
) -> None:
    # pytest-django swaps EMAIL_BACKEND for locmem; restore the product's backend, which queues
    # delivery after commit, and let the delivery task hand messages to locmem.
    settings.EMAIL_BACKEND = "crm_platform.mail.TaskEmailBackend"
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert crm_platform.celery_app.conf.task_always_eager is True
    admin = world.alpha.members[Role.ADMIN]
    email = f"after-commit-{secrets.token_hex(4)}@example.com"
    mail.outbox.clear()

    with django_db_blocker.unblock():
        with schema_context(world.alpha.tenant.schema_name):
            last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        try:
            with transaction.atomic():
                services.invitation_create(actor=admin, email=email, role=Role.SALES_REP)
                assert mail.outbox == []  # queued for after commit, not sent yet
                transaction.set_rollback(True)
            assert mail.outbox == []
            assert not Invitation.objects.filter(email=email).exists()

            invitation = services.invitation_create(actor=admin, email=email, role=Role.SALES_REP)
            assert [message.to for message in mail.outbox] == [[email]]
            assert mail.outbox[0].subject == "You are invited to Alpha Inc on Rapport"
            # The link in the mail opens this invitation. (Compared by what it opens, not as
            # text: a link signed again a second later carries another timestamp.)
            link = re.search(r"/invitations/([^/\s]+)/", str(mail.outbox[0].body))
            assert link is not None
            assert services.invitation_from_token(link.group(1)).pk == invitation.pk
            site = services.invitation_url(invitation).split("/invitations/")[0]
            assert f"{site}/invitations/{link.group(1)}/" in str(mail.outbox[0].body)
        finally:
            Invitation.objects.filter(email=email).delete()
            with schema_context(world.alpha.tenant.schema_name):
                AuditEvent.objects.filter(id__gt=last_event or 0).delete()
            connection.set_schema_to_public()  # type: ignore[attr-defined]


# --- channel layer -------------------------------------------------------------------------


def test_user_group_names_carry_the_schema(alpha: Workspace, bravo: Workspace) -> None:
    user_id = alpha.owner.user_id
    assert (
        user_group(schema_name=alpha.tenant.schema_name, user_id=user_id)
        == f"{alpha.tenant.schema_name}.user.{user_id}"
    )
    assert user_group(schema_name=bravo.tenant.schema_name, user_id=user_id) != user_group(
        schema_name=alpha.tenant.schema_name, user_id=user_id
    )


def test_notification_for_one_workspace_does_not_reach_the_same_user_in_another(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    assert layer is not None
    user_id = alpha.owner.user_id
    in_alpha = f"probe-alpha-{secrets.token_hex(4)}"
    in_bravo = f"probe-bravo-{secrets.token_hex(4)}"
    alpha_group = user_group(schema_name=alpha.tenant.schema_name, user_id=user_id)
    bravo_group = user_group(schema_name=bravo.tenant.schema_name, user_id=user_id)
    async_to_sync(layer.group_add)(alpha_group, in_alpha)
    async_to_sync(layer.group_add)(bravo_group, in_bravo)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notify_user(
                tenant=alpha.tenant, user_id=user_id, event="probe", payload={"for": "alpha"}
            )
        # A marker sent to bravo after alpha's message: a channel receives in order, so if
        # alpha's message had leaked into bravo's group it would arrive before the marker.
        async_to_sync(layer.group_send)(bravo_group, {"type": "marker"})

        assert async_to_sync(layer.receive)(in_alpha) == {
            "type": "notify",
            "event": "probe",
            "payload": {"for": "alpha"},
        }
        assert async_to_sync(layer.receive)(in_bravo) == {"type": "marker"}
    finally:
        async_to_sync(layer.group_discard)(alpha_group, in_alpha)
        async_to_sync(layer.group_discard)(bravo_group, in_bravo)
