"""Live dashboards under load: commit-to-browser latency and coalescing, through the real
Redis channel layer and the real socket stack (middleware, consumer).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/live.py --clients 200 --changes 1000 --rate 20 --burst 10000

It reuses the workspace of ``bench/dashboard.py`` (database ``bench_dashboard`` unless
--database says otherwise; run that first). It opens --clients dashboard sockets (signed-in
Owners' sessions, in this process, over the channel layer in Redis), then:

1. moves --changes deals between two stages through ``deal_move_stage`` (the service the board
   calls), --rate a second, each its own transaction; for every client and change, the time
   from the commit to the first ``dashboard.refresh`` that arrives after it (coalescing window
   included); a change after which a client receives no refresh is lost;
2. a burst: --burst deals updated in one transaction that publishes one ``deal.updated``
   per row (what a bulk edit without a summary event would do), with --burst-clients sockets
   open; it prints how many refreshes each socket received, and the time from the commit to
   the last refresh (the one that shows the burst's final state).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from urllib.parse import urlsplit, urlunsplit  # noqa: E402

PATH = "/ws/reporting/dashboard/"
SLUG = "bench"  # the workspace bench/dashboard.py seeds


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm_platform.settings.dev"
    import django

    django.setup()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dashboard")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--burst-clients", type=int, default=20)
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def sessions(n: int) -> tuple[Any, str, list[str]]:
    """The workspace, its host, and n session keys of its Owner."""
    from django.conf import settings
    from django.test import Client

    from tenants.middleware import SESSION_WORKSPACE_KEY
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    owner = tenant.memberships.get(role="owner").user
    keys = []
    for _ in range(n):
        client = Client(HTTP_HOST=f"{SLUG}.localhost")
        client.force_login(owner, backend="allauth.account.auth_backends.AuthenticationBackend")
        session = client.session
        session[SESSION_WORKSPACE_KEY] = tenant.pk
        session.save()
        keys.append(str(client.cookies[settings.SESSION_COOKIE_NAME].value))
    return tenant, f"{SLUG}.localhost", keys


class Listener:
    """One dashboard socket, keeping the arrival time of every refresh."""

    def __init__(self, host: str, session_key: str) -> None:
        from channels.testing import WebsocketCommunicator
        from django.conf import settings

        from crm_platform.asgi import application
        from tenants.hosts import workspace_origin

        headers = [
            (b"host", host.encode()),
            (b"origin", workspace_origin(host).encode()),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()),
        ]
        self.socket = WebsocketCommunicator(application, PATH, headers=headers)
        self.refreshes: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        connected, _ = await self.socket.connect(timeout=30)
        if not connected:
            sys.exit("a socket was refused")
        await self.socket.receive_json_from(timeout=30)  # hello
        self.task = asyncio.ensure_future(self.listen())

    async def listen(self) -> None:
        while True:
            message = await self.socket.receive_json_from(timeout=3600)
            if message.get("event") == "dashboard.refresh":
                self.refreshes.append(time.perf_counter())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.socket.disconnect()


def changes_thread(tenant: Any, n: int, rate: float, commits: list[float]) -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from crm_modules.sales.models import Deal, Stage
    from crm_modules.sales.services import deal_move_stage
    from tenants.models import Membership

    with schema_context(tenant.schema_name):
        actor = Membership.objects.select_related("tenant", "user").get(tenant=tenant, role="owner")
        first, second = Stage.objects.filter(kind="open").order_by("position")[:2]
        deals = list(Deal.objects.filter(status="open", stage=first).order_by("id")[:n])
        started = time.perf_counter()
        for i, deal in enumerate(deals):
            due = started + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            deal_move_stage(actor=actor, deal=deal, stage=second.pk)
            commits.append(time.perf_counter())
        # Put them back without announcing it (the next run starts from the same state).
        Deal.objects.filter(pk__in=[d.pk for d in deals]).update(stage=first)
    connection.close()


def burst_thread(tenant: Any, n: int, done: list[float]) -> None:
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from crm_modules.sales.api import DEALS_TOPIC
    from crm_modules.sales.models import Deal
    from tenants.live import publish

    with schema_context(tenant.schema_name):
        ids = list(Deal.objects.order_by("id").values_list("pk", flat=True)[:n])
        with transaction.atomic():
            Deal.objects.filter(pk__in=ids).update(updated_at=timezone.now())
            for pk in ids:
                publish(tenant=tenant, topic=DEALS_TOPIC, event="deal.updated", payload={"id": pk})
        done.append(time.perf_counter())
    connection.close()


async def run(args: argparse.Namespace, tenant: Any, host: str, keys: list[str]) -> None:
    from asgiref.sync import sync_to_async

    from crm_modules.reporting.consumers import COALESCE_SECONDS

    listeners = [Listener(host, key) for key in keys[: args.clients]]
    for listener in listeners:
        await listener.open()
    print(f"{len(listeners)} sockets open; coalescing window {COALESCE_SECONDS * 1000:.0f} ms")

    commits: list[float] = []
    worker = threading.Thread(
        target=changes_thread, args=(tenant, args.changes, args.rate, commits)
    )
    worker.start()
    await sync_to_async(worker.join)()
    await asyncio.sleep(COALESCE_SECONDS * 4 + 2)
    latencies: list[float] = []
    lost = 0
    for listener in listeners:
        arrivals = sorted(listener.refreshes)
        j = 0
        for committed in commits:
            while j < len(arrivals) and arrivals[j] < committed:
                j += 1
            if j == len(arrivals):
                lost += 1
            else:
                latencies.append((arrivals[j] - committed) * 1000)
    refreshes = [len(listener.refreshes) for listener in listeners]
    print(
        f"\n{len(commits)} changes at {args.rate:g}/s to {len(listeners)} clients: "
        f"commit-to-client p50 {percentile(latencies, 0.50):.0f} ms, "
        f"p95 {percentile(latencies, 0.95):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms; lost {lost} of {len(commits) * len(listeners)}; "
        f"refreshes per client median {statistics.median(refreshes):.0f}",
        flush=True,
    )
    for listener in listeners[args.burst_clients :]:
        await listener.close()
    listeners = listeners[: args.burst_clients]
    for listener in listeners:
        listener.refreshes.clear()

    done: list[float] = []
    started = time.perf_counter()
    worker = threading.Thread(target=burst_thread, args=(tenant, args.burst, done))
    worker.start()
    await sync_to_async(worker.join)()
    await asyncio.sleep(COALESCE_SECONDS * 4 + 5)
    counts = [len(listener.refreshes) for listener in listeners]
    last = [
        (max(listener.refreshes) - done[0]) * 1000 for listener in listeners if listener.refreshes
    ]
    after = sum(1 for listener in listeners if any(t >= done[0] for t in listener.refreshes))
    print(
        f"burst of {args.burst:,} row events in one transaction (written in "
        f"{(done[0] - started):.1f} s) to {len(listeners)} clients: refreshes per client "
        f"min {min(counts)}, median {statistics.median(counts):.0f}, max {max(counts)}; "
        f"clients refreshed after the commit {after} of {len(listeners)}; commit to last "
        f"refresh median {statistics.median(last) if last else float('nan'):.0f} ms, "
        f"max {max(last) if last else float('nan'):.0f} ms",
        flush=True,
    )
    for listener in listeners:
        await listener.close()


def main() -> None:
    args = parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL must name the Redis the channel layer uses")
    setup_django(with_database(server, args.database))
    tenant, host, keys = sessions(max(args.clients, args.burst_clients))
    asyncio.run(run(args, tenant, host, keys))


if __name__ == "__main__":
    main()
