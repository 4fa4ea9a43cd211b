"""The live listeners hear of a commit once per (workspace, topic), however many events it
published there, and only once it has committed: a rolled-back savepoint takes its events
out, not the commit's others; a rolled-back transaction tells nothing; each commit is told."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import transaction

from tenants import live
from tenants.commit_batch import on_commit_once
from tenants.live import publish
from tenants.models import Tenant
from tests.conftest import World
from tests.kit_module.module import NOTES_TOPIC

pytestmark = pytest.mark.django_db


@contextmanager
def heard() -> Iterator[list[tuple[str, str]]]:
    told: list[tuple[str, str]] = []

    def listener(tenant: Tenant, topic: str) -> None:
        told.append((tenant.schema_name, topic))

    live.register_listener(listener)
    try:
        yield told
    finally:
        live._LISTENERS.remove(listener)


def _note(tenant: Tenant, record: int) -> None:
    publish(tenant=tenant, topic=NOTES_TOPIC, event="note.renamed", payload={"id": record})


def test_a_commit_of_many_events_is_told_once_per_workspace_and_topic(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    alpha, bravo = world.alpha.tenant, world.bravo.tenant
    with heard() as told:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            for record in range(100):
                _note(alpha, record)
                publish(tenant=alpha, topic=NOTES_TOPIC, event="note.deleted", payload={"n": 1})
            _note(bravo, 1)
            with live.coalesced():
                _note(alpha, 200)
            assert told == []  # nothing before the commit
        assert told == [(alpha.schema_name, "notes"), (bravo.schema_name, "notes")]

        with django_capture_on_commit_callbacks(execute=True):
            _note(alpha, 1)
        assert told[2:] == [(alpha.schema_name, "notes")]


def test_a_rolled_back_savepoint_takes_only_its_own_events_out(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    tenant = world.alpha.tenant
    with heard() as told, django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                _note(tenant, 1)
                raise RuntimeError("this change is rolled back")
        except RuntimeError:
            pass
        _note(tenant, 2)
    assert told == [(tenant.schema_name, "notes")]


def test_a_rolled_back_transaction_tells_nothing_and_the_next_commit_is_told(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    tenant = world.alpha.tenant
    with heard() as told:
        with django_capture_on_commit_callbacks(execute=True):
            try:
                with transaction.atomic():
                    for record in range(5):
                        _note(tenant, record)
                    raise RuntimeError("the whole change is rolled back")
            except RuntimeError:
                pass
        assert told == []
        with django_capture_on_commit_callbacks(execute=True):
            _note(tenant, 9)
        assert told == [(tenant.schema_name, "notes")]


def test_work_asked_for_by_many_changes_runs_once_per_commit_in_order(
    django_capture_on_commit_callbacks: Any,
) -> None:
    ran: list[str] = []
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            on_commit_once("a", lambda: ran.append("a"))
            on_commit_once("b", lambda: ran.append("b"))
    with django_capture_on_commit_callbacks(execute=True):
        on_commit_once("a", lambda: ran.append("a again"))
    assert ran == ["a", "b", "a again"]
