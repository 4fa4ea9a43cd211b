"""An import's progress reaches open pages over the channel layer (real Redis), batch by
batch, and its author is notified when it finishes; open dashboards hear that it finished."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from crm_modules.dataio.services import imports
from crm_modules.reporting.services import dashboard_group
from tenants.live import topic_group
from tenants.notifications import user_group
from tests.conftest import Workspace
from tests.dataio.conftest import fresh, upload

pytestmark = pytest.mark.usefixtures("s3_bucket")


def test_progress_is_published_per_batch_and_the_author_notified(
    in_alpha: Workspace,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actor = fresh(in_alpha.members["manager"])
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    body = b"Email\r\na@example.com\r\nb@example.com\r\nbroken\r\n"
    job = upload(actor, body)
    imports.import_configure(
        actor=actor, job=job, mapping=job.mapping, duplicates="skip", date_format="iso"
    )
    schema = in_alpha.tenant.schema_name
    groups = [
        topic_group(schema_name=schema, topic="imports"),
        user_group(schema_name=schema, user_id=actor.user_id),
        dashboard_group(schema_name=schema),
    ]

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            imports.import_start(actor=actor, job=job)

    async def scenario() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        await sync_to_async(run)()
        received = []
        try:
            while True:
                received.append(await asyncio.wait_for(layer.receive(channel), 1.0))
        except TimeoutError:
            return received

    messages = async_to_sync(scenario)()

    progress = [m["payload"] for m in messages if m["event"] == "import.progress"]
    assert [(p["processed"], p["total"], p["status"]) for p in progress] == [
        (2, 3, "running"),
        (3, 3, "running"),
        (3, 3, "done"),
    ]
    assert all(m["topic"] == "imports" for m in messages if m["event"] == "import.progress")
    # Open dashboards hear once that the import finished (not once per batch).
    assert [m["event"] for m in messages if m["event"].startswith("import.f")] == [
        "import.finished"
    ]
    (notice,) = [m["payload"] for m in messages if m["event"] == "notification"]
    assert notice == {
        "text": "Import of people.csv finished: 2 created, 0 updated, 0 skipped, 1 not imported.",
        "kind": "warning",
    }
