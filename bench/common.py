"""What the benchmark scripts share: their databases, Django's start, the benchmark workspace,
percentiles and timed requests.

A script puts the repository root on ``sys.path`` and imports from here::

    ROOT = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(ROOT))

    from bench.common import ensure_database, setup_django  # noqa: E402
"""

from __future__ import annotations

import math
import os
import resource
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

# The server when DATABASE_URL is not set; a script creates its own database on it.
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# The workspace most scripts measure (sales, service, campaigns, segments, dashboards).
SLUG = "bench"
PASSWORD = "a-long-enough-passphrase"  # noqa: S105

FIRST = {
    "en": ["James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David", "Emma"],
    "ru": ["Иван", "Анна", "Дмитрий", "Ольга", "Сергей", "Мария", "Алексей", "Елена"],
    "it": ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Davide"],
    "th": ["สมชาย", "สมหญิง", "ประเสริฐ", "วิไล", "อนันต์", "มาลี", "สุชาติ", "นภา"],
    "zh": ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳"],
}
LAST = {
    "en": ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Clark"],
    "ru": ["Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Козлов", "Новикова"],
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "th": ["ใจดี", "ศรีสุข", "วงศ์ใหญ่", "แสงทอง", "บุญมา", "ทองดี", "สุขสวัสดิ์", "พรหมมา"],
    "zh": ["王", "李", "张", "刘", "陈", "杨", "黄", "赵"],
}
# The pipeline of the sales workspace: name, probability, kind.
SALES_STAGES = [
    ("New", 10, "open"),
    ("Qualified", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
]


def server_url() -> str:
    """The PostgreSQL server DATABASE_URL names (its own database is not used)."""
    return os.environ.get("DATABASE_URL", DEFAULT_SERVER)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def ensure_database(server_url: str, name: str, *, fresh: bool) -> bool:
    """Create the database unless it exists (drop it first when ``fresh``); True when the
    database was (re)created."""
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not fresh:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def bench_database(name: str, *, fresh: bool) -> str:
    """The URL of the database ``name`` on the server DATABASE_URL names, created unless it
    exists (afresh when ``fresh``)."""
    server = server_url()
    ensure_database(server, name, fresh=fresh)
    return with_database(server, name)


def recreate_database(server_url: str, name: str) -> None:
    ensure_database(server_url, name, fresh=True)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str, *, pooled: bool = False, **env: str) -> None:
    """Django with the development settings on ``database_url`` (real PostgreSQL, and Redis when
    REDIS_URL is set); ``env`` sets further environment variables first. ``pooled``: requests
    take their connection from psycopg's pool, as in production (``settings/production.py``),
    instead of opening one each (3.5 ms median on this machine's loopback)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm_platform.settings.dev"
    import django
    from django.conf import settings

    if pooled:
        settings.DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": 10,
        }
    django.setup()
    if pooled:
        from django.db import connection

        if connection.pool is None:  # type: ignore[attr-defined]
            sys.exit("The connection pool was not set up.")


def provision(
    slug: str = SLUG,
    company_name: str = "Bench Inc",
    email: str = "owner@bench.example.com",
    *,
    full_name: str = "Bench Owner",
    every_schema: bool = False,
) -> None:
    """Migrate the public schema (every schema with ``every_schema``) and sign the workspace up
    unless it exists."""
    from django.core.management import call_command

    from tenants import services
    from tenants.models import Tenant

    call_command("migrate_schemas", *([] if every_schema else ["--shared"]), verbosity=0)
    if not Tenant.objects.filter(slug=slug).exists():
        services.workspace_signup(
            company_name=company_name,
            slug=slug,
            full_name=full_name,
            email=email,
            password=PASSWORD,
        )


def add_reps(tenant: Any, reps: int) -> list[int]:
    """Sales reps ``rep<n>@bench.example.com`` in the workspace; returns the user ids of all its
    Sales reps, in order."""
    from tenants.models import Membership, User
    from tenants.roles import Role

    for n in range(reps):
        user, _ = User.objects.get_or_create(
            email=f"rep{n}@bench.example.com", defaults={"full_name": f"Rep {n}"}
        )
        Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": Role.SALES_REP}
        )
    return list(
        Membership.objects.filter(tenant=tenant, role=Role.SALES_REP)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def create_sales_pipeline() -> None:
    """The pipeline "Sales" with its six stages, in the current schema."""
    from crm_modules.sales.models import Pipeline, Stage

    pipeline = Pipeline.objects.create(name="Sales")
    for position, (name, probability, kind) in enumerate(SALES_STAGES):
        Stage.objects.create(
            pipeline=pipeline, name=name, position=position, probability=probability, kind=kind
        )


def percentile(samples: list[float], q: float) -> float:
    """The sample at rank round(q * n) (``q`` from 0 to 1)."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def p95(samples: list[float]) -> float:
    return percentile(samples, 0.95)


def nearest_rank(samples: list[float], pct: float) -> float:
    """The nearest-rank percentile: the sample at rank ceil(pct / 100 * n)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def measure(
    client: object, path: str, n: int, before: Callable[[], None] | None = None
) -> tuple[float, float, float, int]:
    """Median and p95 server time, p95 database time, and queries of ``n`` requests (after one
    untimed request; ``before`` runs untimed before each timed one); exits when a request does
    not answer 200."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # type: ignore[attr-defined]
    samples = []
    database = []
    queries = 0
    for _ in range(n):
        if before is not None:
            before()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)  # type: ignore[attr-defined]
            samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
        queries = len(captured)
        database.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    return statistics.median(samples), p95(samples), p95(database), queries


def render_as_served() -> None:
    """From here on, render pages as a server does. ``setup_test_environment`` makes Django
    copy the context of every template it renders, includes too, so that ``response.context``
    can be read; production never pays that, so a page is timed without it."""
    from django.conf import settings
    from django.test.utils import teardown_test_environment

    teardown_test_environment()
    settings.DEBUG = False  # teardown puts back the value from before the setup


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def rss_mb(field: str = "VmHWM") -> float:
    """This process's resident memory now (VmRSS) or at its peak since the last reset (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> None:
    """Start the peak (VmHWM) afresh, so it measures what follows and not the set-up."""
    Path("/proc/self/clear_refs").write_text("5")
