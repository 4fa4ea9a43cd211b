"""While a batch is written, the next batch's rows are checked in a thread (ADR 0083): what
each row becomes must be exactly what checking it in the batch's own transaction gives."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.utils import translation

from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services import imports
from crm_modules.dataio.services.rows import Runner
from crm_modules.sales.models import Contact, ContactEmail, CustomField
from tests.conftest import Workspace
from tests.dataio.conftest import fresh, upload
from tests.dataio.test_imports import _body, _run

pytestmark = pytest.mark.usefixtures("s3_bucket")


class _Spy:
    """Records each check made ahead: the thread it ran in, its rows, what it raised."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, list[int], str]] = []
        original = imports._check

        def check(runner: Runner, batch: list[tuple[int, list[str]]], *context: Any) -> Any:
            numbers = [number for number, _cells in batch]
            thread = threading.current_thread().name
            try:
                result = original(runner, batch, *context)
            except Exception as exc:
                self.calls.append((thread, numbers, type(exc).__name__))
                raise
            self.calls.append((thread, numbers, ""))
            return result

        monkeypatch.setattr(imports, "_check", check)


def test_bad_rows_checked_ahead_are_reported_in_the_language_of_the_run(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = fresh(in_alpha.owner)
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    spy = _Spy(monkeypatch)
    rows = [
        ["Name", "Email", "Phone"],
        ["Ana García", "ana@garcia.es", "+34 612 345 678"],
        ["Иван Петров", "ivan@example.ru", "+7 912 345-67-89"],
        ["王芳", "wang@example.cn", "+86 138 0013 8000"],
        ["Bad Email", "not-an-email", ""],
        ["Bad Phone", "phone@example.com", "+39 12"],
    ]
    job = upload(actor, _body(rows))
    with translation.override("it"):
        job = _run(job, actor, django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.error_count, job.processed_rows) == (3, 2, 5)
    # The first batch is checked in its transaction; the next two while the one before is
    # written, in the checking thread.
    assert [(numbers, raised) for _thread, numbers, raised in spy.calls] == [
        ([3, 4], ""),
        ([5], ""),
    ]
    assert all(thread.startswith("import-checks") for thread, _numbers, _raised in spy.calls)
    assert list(imports.import_error_lines(job)) == [
        (4, "Email", "Inserisca un indirizzo email valido."),
        (5, "Phone", "“+39 12” non è un numero di telefono valido."),
    ]
    assert sorted(Contact.objects.values_list("primary_email", flat=True)) == [
        "ana@garcia.es",
        "ivan@example.ru",
        "wang@example.cn",
    ]


def test_rows_checked_ahead_are_checked_again_when_a_custom_field_changed_in_between(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch's rows were checked against the options the field had while the first
    batch was written; the option is removed before the second batch's transaction, so its row
    is checked again and refused."""
    actor = fresh(in_alpha.owner)
    field = CustomField.objects.create(
        entity="contact", code="tier", label="Tier", type="select", options=["gold", "silver"]
    )
    monkeypatch.setattr(imports, "BATCH_ROWS", 1)
    spy = _Spy(monkeypatch)
    original = Runner.apply_batch

    def then_remove_silver(self: Runner, batch: Any) -> Any:
        result = original(self, batch)
        CustomField.objects.filter(pk=field.pk).update(options=["gold"])
        return result

    monkeypatch.setattr(Runner, "apply_batch", then_remove_silver)
    rows = [["Email", "Tier"], ["a@example.com", "gold"], ["b@example.com", "silver"]]
    job = _run(upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks)

    assert [call[1:] for call in spy.calls] == [([2], "")]  # checked ahead and accepted there
    assert (job.created_count, job.error_count) == (1, 1)
    assert list(imports.import_error_lines(job)) == [(2, "Tier", "Choose a value from the list.")]
    assert Contact.objects.get().custom == {"tier": "gold"}


def test_a_check_that_reads_the_database_is_made_in_the_batch_transaction(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member field's value is checked against the workspace's members, a query: the thread
    may not make it (no transaction, no workspace schema there), so the rows are checked again
    in their batch's transaction."""
    actor = fresh(in_alpha.owner)
    CustomField.objects.create(
        entity="contact", code="manager", label="Account manager", type="member"
    )
    monkeypatch.setattr(imports, "BATCH_ROWS", 1)
    spy = _Spy(monkeypatch)
    user_id = str(actor.user_id)
    rows = [
        ["Email", "Account manager"],
        ["a@example.com", user_id],
        ["b@example.com", user_id],
        ["c@example.com", "999999"],
    ]
    job = _run(upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks)

    assert [(numbers, raised) for _thread, numbers, raised in spy.calls] == [
        ([2], "_QueryAhead"),
        ([3], "_QueryAhead"),
    ]
    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.error_count) == (2, 1)
    assert sorted(Contact.objects.values_list("primary_email", "custom")) == [
        ("a@example.com", {"manager": actor.user_id}),
        ("b@example.com", {"manager": actor.user_id}),
    ]
    assert list(imports.import_error_lines(job)) == [
        (3, "Account manager", "Choose a member of this workspace.")
    ]


class WorkerDied(BaseException):
    """Stands for the process being killed: nothing in the task catches it."""


def test_a_worker_killed_while_the_next_batch_is_checked_resumes_exactly(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies writing the second batch while the third is being checked: nothing of
    the second batch stays, and the next run applies every later row once, bad ones reported."""
    from crm_modules.dataio import tasks

    actor = fresh(in_alpha.owner)
    monkeypatch.setattr(imports, "BATCH_ROWS", 3)
    spy = _Spy(monkeypatch)
    original = Runner.apply_batch
    calls = {"n": 0}

    def dies_on_second_batch(self: Runner, batch: Any) -> Any:
        calls["n"] += 1
        result = original(self, batch)
        if calls["n"] == 2:
            raise WorkerDied
        return result

    monkeypatch.setattr(Runner, "apply_batch", dies_on_second_batch)
    rows = [["Email"]] + [
        ["broken-at-example.com" if i in (5, 8) else f"person{i}@example.com"] for i in range(1, 10)
    ]
    job = upload(actor, _body(rows))
    imports.import_configure(
        actor=actor, job=job, mapping=job.mapping, duplicates="skip", date_format="iso"
    )
    with pytest.raises(WorkerDied), django_capture_on_commit_callbacks(execute=True):
        imports.import_start(actor=actor, job=job)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == ("running", 3, 3)
    assert ImportRow.objects.filter(job=job).count() == 3
    assert spy.calls[0][1] == [4, 5, 6]  # the batch that died was checked ahead

    monkeypatch.setattr(Runner, "apply_batch", original)
    tasks.import_run(job.pk)
    job.refresh_from_db()

    assert (job.status, job.processed_rows) == ("done", 9)
    assert (job.created_count, job.error_count) == (7, 2)
    assert sorted(ImportRow.objects.filter(job=job).values_list("number", flat=True)) == list(
        range(1, 10)
    )
    assert [number for number, _column, _reason in imports.import_error_lines(job)] == [5, 8]
    assert sorted(ContactEmail.objects.values_list("email", flat=True)) == sorted(
        f"person{i}@example.com" for i in range(1, 10) if i not in (5, 8)
    )
