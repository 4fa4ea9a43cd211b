"""Live dashboards under load: commit-to-browser latency and coalescing, through the real
Redis channel layer and the real socket stack (middleware, consumer).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/live.py --clients 200 --changes 1000 --rate 20 --burst 10000

It reuses the workspace of ``bench/dashboard.py`` (database ``bench_dashboard`` unless
--database says otherwise; run that first). It serves the product's ASGI application under
uvicorn in processes of its own (--workers), as production does, and opens --clients dashboard
sockets of signed-in Owners from --processes client processes (the `websockets` client, the
way a browser connects: Host, Origin, session cookie); the channel layer is the Redis of
REDIS_URL. Then:

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
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    free_port,
    percentile,
    server_url,
    setup_django,
    with_database,
)

PATH = "/ws/reporting/dashboard/"
SLUG = "bench"  # the workspace bench/dashboard.py seeds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dashboard")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--burst-clients", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--workers", type=int, default=2, help="ASGI server processes")
    parser.add_argument(
        "--drain", type=float, default=15.0, help="seconds to wait after the last change"
    )
    return parser.parse_args()


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


def _listen_process(
    port: int, host: str, origin: str, cookies: list[str], ready: Any, stop: Any, out: Any
) -> None:
    """A process of its own holding len(cookies) dashboard sockets; it sends back, per socket,
    the arrival time of every ``dashboard.refresh`` (``time.perf_counter``: CLOCK_MONOTONIC,
    one clock for every process of the machine)."""
    asyncio.run(_listen(port, host, origin, cookies, ready, stop, out))


async def _listen(
    port: int, host: str, origin: str, cookies: list[str], ready: Any, stop: Any, out: Any
) -> None:
    import json

    from websockets.asyncio.client import connect

    arrivals: list[list[float]] = [[] for _ in cookies]
    opened = asyncio.Event()
    count = 0

    async def one(i: int, cookie: str) -> None:
        nonlocal count
        async with connect(
            f"ws://{host}:{port}{PATH}",
            host="127.0.0.1",
            port=port,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            open_timeout=60,
            max_queue=None,
        ) as socket:
            await socket.recv()  # hello
            count += 1
            if count == len(cookies):
                opened.set()
            async for raw in socket:
                if json.loads(raw).get("event") == "dashboard.refresh":
                    arrivals[i].append(time.perf_counter())

    def refused(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            print(f"a socket failed: {task.exception()!r}", file=sys.stderr, flush=True)
            os._exit(1)

    tasks = [asyncio.ensure_future(one(i, cookie)) for i, cookie in enumerate(cookies)]
    for task in tasks:
        task.add_done_callback(refused)
    await opened.wait()
    ready.put(len(cookies))
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.put(arrivals)


class Listeners:
    """--processes client processes sharing the sockets, against the served ASGI process."""

    def __init__(self, port: int, host: str, keys: list[str], processes: int) -> None:
        import multiprocessing

        from django.conf import settings

        from tenants.hosts import workspace_origin

        self.context = multiprocessing.get_context("spawn")
        self.ready = self.context.Queue()
        self.out = self.context.Queue()
        self.stop = self.context.Event()
        cookies = [f"{settings.SESSION_COOKIE_NAME}={key}" for key in keys]
        shares = [cookies[i::processes] for i in range(processes) if cookies[i::processes]]
        origin = workspace_origin(host)
        self.children = [
            self.context.Process(
                target=_listen_process,
                args=(port, host, origin, share, self.ready, self.stop, self.out),
                daemon=True,
            )
            for share in shares
        ]

    def open(self) -> int:
        for child in self.children:
            child.start()
        return sum(self.ready.get(timeout=300) for _ in self.children)

    def close(self) -> list[list[float]]:
        self.stop.set()
        arrivals: list[list[float]] = []
        for _ in self.children:
            arrivals.extend(self.out.get(timeout=300))
        for child in self.children:
            child.join(timeout=30)
        return arrivals


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
    """done gets the commit's time, then the time the last event was sent (the events go
    out after the commit, one by one)."""
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from crm_modules.sales.api import DEALS_TOPIC
    from crm_modules.sales.models import Deal
    from tenants.live import publish

    with schema_context(tenant.schema_name):
        ids = list(Deal.objects.order_by("id").values_list("pk", flat=True)[:n])
        with transaction.atomic():
            transaction.on_commit(lambda: done.append(time.perf_counter()))
            Deal.objects.filter(pk__in=ids).update(updated_at=timezone.now())
            for pk in ids:
                publish(tenant=tenant, topic=DEALS_TOPIC, event="deal.updated", payload={"id": pk})
        done.append(time.perf_counter())
    connection.close()


def serve(args: argparse.Namespace, database_url: str, port: int) -> subprocess.Popen[bytes]:
    """The product's ASGI application under uvicorn, as in production: its own processes,
    HTTP and WebSocket on one port, the channel layer in Redis."""
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="crm_platform.settings.dev",
        PORT=str(port),
    )
    command = [
        sys.executable, "-m", "uvicorn", "crm_platform.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
        "--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning",
    ]  # fmt: skip
    # A process group of its own, so that stopping it stops uvicorn's workers too.
    server = subprocess.Popen(  # noqa: S603 (our own argv)
        command, cwd=ROOT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                sys.exit("the ASGI server did not start")
            time.sleep(0.2)
    stop(server)
    sys.exit("the ASGI server did not start in 120 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole process group (uvicorn drains open connections), SIGKILL
    after 30 s. Stopping the supervisor alone left its worker processes running."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        # Workers that outlived their supervisor.
        os.killpg(server.pid, signal.SIGKILL)


def changes(args: argparse.Namespace, tenant: Any, port: int, host: str, keys: list[str]) -> None:
    from crm_modules.reporting.consumers import COALESCE_SECONDS

    listeners = Listeners(port, host, keys[: args.clients], args.processes)
    opened = listeners.open()
    print(
        f"{opened} sockets open in {len(listeners.children)} client processes; "
        f"coalescing window {COALESCE_SECONDS * 1000:.0f} ms",
        flush=True,
    )
    commits: list[float] = []
    changes_thread(tenant, args.changes, args.rate, commits)
    time.sleep(max(COALESCE_SECONDS * 4 + 2, args.drain))
    arrivals_per_client = listeners.close()
    latencies: list[float] = []
    lost = 0
    for arrivals in arrivals_per_client:
        arrivals.sort()
        j = 0
        for committed in commits:
            while j < len(arrivals) and arrivals[j] < committed:
                j += 1
            if j == len(arrivals):
                lost += 1
            else:
                latencies.append((arrivals[j] - committed) * 1000)
    refreshes = [len(arrivals) for arrivals in arrivals_per_client]
    print(
        f"\n{len(commits)} changes at {args.rate:g}/s to {len(arrivals_per_client)} clients: "
        f"commit-to-client p50 {percentile(latencies, 0.50):.0f} ms, "
        f"p95 {percentile(latencies, 0.95):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms; lost {lost} of {len(commits) * len(arrivals_per_client)}; "
        f"refreshes per client median {statistics.median(refreshes):.0f}",
        flush=True,
    )


def burst(args: argparse.Namespace, tenant: Any, port: int, host: str, keys: list[str]) -> None:
    from crm_modules.reporting.consumers import COALESCE_SECONDS

    listeners = Listeners(port, host, keys[: args.burst_clients], args.processes)
    listeners.open()
    done: list[float] = []
    started = time.perf_counter()
    burst_thread(tenant, args.burst, done)
    time.sleep(max(COALESCE_SECONDS * 4 + 5, args.drain))
    arrivals_per_client = listeners.close()
    counts = [len(arrivals) for arrivals in arrivals_per_client]
    last = [(max(arrivals) - done[0]) * 1000 for arrivals in arrivals_per_client if arrivals]
    after = sum(1 for arrivals in arrivals_per_client if any(t >= done[0] for t in arrivals))
    print(
        f"burst of {args.burst:,} row events in one transaction (committed after "
        f"{(done[0] - started):.1f} s, its events sent {(done[1] - done[0]):.1f} s after the "
        f"commit) to {len(counts)} clients: refreshes per client "
        f"min {min(counts)}, median {statistics.median(counts):.0f}, max {max(counts)}; "
        f"clients refreshed after the commit {after} of {len(counts)}; commit to last "
        f"refresh median {statistics.median(last) if last else float('nan'):.0f} ms, "
        f"max {max(last) if last else float('nan'):.0f} ms",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL must name the Redis the channel layer uses")
    database_url = with_database(server_url(), args.database)
    port = free_port()
    os.environ["PORT"] = str(port)  # the sockets' Origin carries the served port
    setup_django(database_url)
    tenant, host, keys = sessions(max(args.clients, args.burst_clients))
    server = serve(args, database_url, port)
    try:
        changes(args, tenant, port, host, keys)
        if args.burst:
            burst(args, tenant, port, host, keys)
    finally:
        # The client processes have gone already.
        stop(server)


if __name__ == "__main__":
    main()
