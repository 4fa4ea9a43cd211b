"""The sales dashboard's socket: tells an open dashboard which of its charts to fetch again.

The consumer listens to the live topics the member may hear (deals, activities, tasks; D6
schema-prefixed groups) and to the workspace's dashboard group (a report pinned or unpinned).
Changes are coalesced per socket: the first event after a quiet spell opens a window of
``COALESCE_SECONDS``; when it closes, one ``dashboard.refresh`` names every chart touched in
it, so a burst of a thousand changes costs each browser one refresh per chart per window.
Each viewer then fetches its charts through the same scoped pages, so a push never carries
numbers a viewer may not see.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django_tenants.utils import schema_context

from crm_modules.reporting.dashboard import default_chart
from crm_modules.reporting.layouts import dashboard_cards, report_id
from crm_modules.reporting.models import Report
from crm_modules.reporting.module import VIEW_REPORTS
from crm_modules.reporting.registry import get_source
from crm_modules.reporting.services import dashboard_group
from crm_modules.reporting.services.rates import RATES_EVENT
from tenants.consumers import WorkspaceConsumer
from tenants.live import topic_group, topics_for
from tenants.models import Membership

COALESCE_SECONDS = 0.25


def chart_events(member: Membership) -> dict[str, frozenset[str]]:
    """Per chart of the member's dashboard, the live events that may change it."""
    charts: dict[str, frozenset[str]] = {}
    cards = dashboard_cards(actor=member)
    reports = {
        f"report-{pk}": definition
        for pk, definition in Report.objects.filter(
            pk__in=[report_id(card.key) for card in cards]
        ).values_list("pk", "definition")
    }
    for card in cards:
        chart = default_chart(card.key)
        if chart is not None:
            charts[card.key] = chart.live_events
        elif card.key in reports:
            source = get_source(str(reports[card.key].get("source", "")))
            charts[card.key] = source.live_events if source is not None else frozenset()
    return charts


class DashboardConsumer(WorkspaceConsumer):
    capability = VIEW_REPORTS

    async def connect(self) -> None:
        tenant = self.scope["tenant"]
        membership = self.scope["membership"]
        self.charts = await self._chart_events(tenant.schema_name, membership)
        self.pending: set[str] = set()
        self.flush_task: asyncio.Task[None] | None = None
        self.sequence = 0
        self.groups_joined = [
            dashboard_group(schema_name=tenant.schema_name),
            *(
                topic_group(schema_name=tenant.schema_name, topic=topic.name)
                for topic in topics_for(membership)
            ),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "hello", "payload": {"charts": sorted(self.charts)}})

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _chart_events(self, schema_name: str, membership: Membership) -> dict[str, frozenset[str]]:
        with schema_context(schema_name):
            return chart_events(membership)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        task = getattr(self, "flush_task", None)
        if task is not None:
            task.cancel()

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong", "payload": {}})

    async def notify(self, message: dict[str, Any]) -> None:
        event = str(message.get("event", ""))
        if event == "dashboard.layout":
            await self.send_json({"event": "dashboard.layout", "payload": {}})
            return
        if event == RATES_EVENT:
            # Any money figure may change with a rate: every chart is fetched again.
            touched = set(self.charts)
        else:
            touched = {key for key, events in self.charts.items() if event in events}
        if not touched:
            return
        self.pending |= touched
        if self.flush_task is None:
            self.flush_task = asyncio.ensure_future(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        charts, self.pending = sorted(self.pending), set()
        self.flush_task = None
        self.sequence += 1
        try:
            await self.send_json(
                {"event": "dashboard.refresh", "payload": {"charts": charts, "seq": self.sequence}}
            )
        except OSError:
            # The browser left while this refresh was due: the ASGI server refuses a send on a
            # closed socket with an OSError, and the socket's disconnect follows.
            return
