"""Check, lock, check again (DESIGN.md item 15): two requests racing against real PostgreSQL.

Each test sends a request that passes its early checks and then waits just before it locks
the workspace row; meanwhile a second request runs to completion and commits; then the first
goes on. The first must decide from the rows as they are now, under the lock — the member's
and its own actor's — not from what it read before.

Requests run in threads on their own connections, so these tests work on the committed
``world`` and put back everything they change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.models import Invitation, Membership, UserSession
from tenants.roles import Role
from tenants.services import invitations, members, seats
from tests.conftest import World, workspace_client
from tests.factories import InvitationFactory

TIMEOUT = 30


@pytest.fixture
def committed(world: World, django_db_blocker: Any) -> Iterator[World]:
    """The committed world, put back as it was after the test."""
    with django_db_blocker.unblock():
        seats = {
            m.pk: (m.role, m.status) for m in Membership.objects.filter(tenant=world.alpha.tenant)
        }
        sessions = set(UserSession.objects.values_list("session_key", flat=True))
        invitations_before = set(Invitation.objects.values_list("pk", flat=True))
        with schema_context(world.alpha.tenant.schema_name):
            last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        try:
            yield world
        finally:
            for pk, (role, status) in seats.items():
                Membership.objects.filter(pk=pk).update(
                    role=role, status=status, deactivated_at=None
                )
            UserSession.objects.exclude(session_key__in=sessions).delete()
            Invitation.objects.exclude(pk__in=invitations_before).delete()
            with schema_context(world.alpha.tenant.schema_name):
                AuditEvent.objects.filter(id__gt=last_event or 0).delete()
            connection.set_schema_to_public()  # type: ignore[attr-defined]


def _client(world: World, role: str) -> Client:
    return workspace_client(world.alpha.members[role].user, world.alpha.tenant)


def _race(
    monkeypatch: pytest.MonkeyPatch, *, late: Callable[[], Any], meanwhile: Callable[[], Any]
) -> None:
    """Run ``late`` until it is about to lock the workspace, run ``meanwhile`` to its commit,
    then let ``late`` go on."""
    reached_lock = threading.Event()
    other_committed = threading.Event()
    errors: list[BaseException] = []
    late_thread: threading.Thread

    def gated(lock: Callable[..., Any]) -> Callable[..., Any]:
        def wait_then_lock(tenant: Any) -> Any:
            if threading.current_thread() is late_thread:
                reached_lock.set()
                assert other_committed.wait(TIMEOUT)
            return lock(tenant)

        return wait_then_lock

    monkeypatch.setattr(members, "lock_tenant", gated(seats.lock_tenant))
    monkeypatch.setattr(invitations, "lock_tenant", gated(seats.lock_tenant))

    def in_thread(work: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                response = work()
                # A refused action: a redirect with a message, or the invite form again (400).
                assert response.status_code in (302, 400), response.status_code
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                reached_lock.set()  # the late request never locked: let the other run
                connection.close()

        return run

    late_thread = threading.Thread(target=in_thread(late))
    late_thread.start()
    assert reached_lock.wait(TIMEOUT)
    other = threading.Thread(target=in_thread(meanwhile))
    other.start()
    other.join(TIMEOUT)
    other_committed.set()
    late_thread.join(TIMEOUT)
    assert not errors, errors


def _seat(pk: int) -> tuple[str, str]:
    row = Membership.objects.get(pk=pk)
    return row.role, row.status


def test_ownership_transfer_to_a_member_deactivated_meanwhile_is_refused(committed, monkeypatch):
    alpha = committed.alpha
    owner, admin, target = (alpha.members[r] for r in (Role.OWNER, Role.ADMIN, Role.MANAGER))
    owner_client, admin_client = _client(committed, Role.OWNER), _client(committed, Role.ADMIN)

    _race(
        monkeypatch,
        late=lambda: owner_client.post(f"/members/{target.pk}/make-owner/"),
        meanwhile=lambda: admin_client.post(f"/members/{target.pk}/deactivate/"),
    )

    assert _seat(target.pk) == (Role.MANAGER, Membership.Status.DEACTIVATED)
    assert _seat(owner.pk) == (Role.OWNER, Membership.Status.ACTIVE)
    assert _seat(admin.pk) == (Role.ADMIN, Membership.Status.ACTIVE)
    active_owners = Membership.objects.filter(
        tenant=alpha.tenant, role=Role.OWNER, status=Membership.Status.ACTIVE
    )
    assert list(active_owners.values_list("pk", flat=True)) == [owner.pk]
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action="ownership.transferred").exists()


@pytest.mark.parametrize(
    ("path", "before", "after"),
    [
        ("role/", (Role.SALES_REP, "active"), (Role.SALES_REP, "active")),
        ("deactivate/", (Role.SALES_REP, "active"), (Role.SALES_REP, "active")),
        ("reactivate/", (Role.SALES_REP, "deactivated"), (Role.SALES_REP, "deactivated")),
    ],
)
def test_an_admin_demoted_meanwhile_cannot_finish_managing_a_member(
    committed, monkeypatch, path, before, after
):
    alpha = committed.alpha
    admin, target = alpha.members[Role.ADMIN], alpha.members[Role.SALES_REP]
    Membership.objects.filter(pk=target.pk).update(status=before[1])
    owner_client, admin_client = _client(committed, Role.OWNER), _client(committed, Role.ADMIN)

    _race(
        monkeypatch,
        late=lambda: admin_client.post(f"/members/{target.pk}/{path}", {"role": Role.MARKETER}),
        meanwhile=lambda: owner_client.post(f"/members/{admin.pk}/role/", {"role": Role.READ_ONLY}),
    )

    assert _seat(admin.pk) == (Role.READ_ONLY, Membership.Status.ACTIVE)
    assert _seat(target.pk) == after


def test_an_admin_demoted_meanwhile_cannot_invite(committed, monkeypatch):
    alpha = committed.alpha
    admin = alpha.members[Role.ADMIN]
    owner_client, admin_client = _client(committed, Role.OWNER), _client(committed, Role.ADMIN)
    sent_before = len(mail.outbox)

    _race(
        monkeypatch,
        late=lambda: admin_client.post(
            "/members/invite/", {"email": "raced@example.com", "role": Role.SALES_REP}
        ),
        meanwhile=lambda: owner_client.post(f"/members/{admin.pk}/role/", {"role": Role.READ_ONLY}),
    )

    assert not Invitation.objects.filter(email="raced@example.com").exists()
    assert len(mail.outbox) == sent_before


def test_an_admin_demoted_meanwhile_cannot_revoke(committed, monkeypatch):
    alpha = committed.alpha
    admin = alpha.members[Role.ADMIN]
    invitation = InvitationFactory.create(tenant=alpha.tenant, invited_by=alpha.owner.user)
    owner_client, admin_client = _client(committed, Role.OWNER), _client(committed, Role.ADMIN)

    _race(
        monkeypatch,
        late=lambda: admin_client.post(f"/invitations/{invitation.pk}/revoke/"),
        meanwhile=lambda: owner_client.post(f"/members/{admin.pk}/role/", {"role": Role.READ_ONLY}),
    )

    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING


def test_an_invitation_revoked_meanwhile_is_not_resent(committed, monkeypatch):
    alpha = committed.alpha
    invitation = InvitationFactory.create(tenant=alpha.tenant, invited_by=alpha.owner.user)
    owner_client, admin_client = _client(committed, Role.OWNER), _client(committed, Role.ADMIN)
    sent_before = len(mail.outbox)

    _race(
        monkeypatch,
        late=lambda: admin_client.post(f"/invitations/{invitation.pk}/resend/"),
        meanwhile=lambda: owner_client.post(f"/invitations/{invitation.pk}/revoke/"),
    )

    row = Invitation.objects.get(pk=invitation.pk)
    assert (row.status, row.nonce) == (Invitation.Status.REVOKED, invitation.nonce)
    assert len(mail.outbox) == sent_before
