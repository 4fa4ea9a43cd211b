"""Signup latency with the spare-schema pool, against a database holding 1,000 workspaces.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/provision.py

DATABASE_URL names the PostgreSQL server; the benchmark creates its own throwaway database on it
(``rapport_bench`` unless --database says otherwise), drops it at the end (unless --keep), and
never touches the database in the URL. REDIS_URL should be a scratch Redis database: each signup
enqueues the pool top-up task there (no worker runs) and the queue is purged at the end.

What it does:

1. Setup (timed, not part of the figures): migrate the public schema; create one workspace
   schema through the real spare path (``Tenant.save`` runs the migrations); copy it into the
   other existing workspaces with a ``pg_dump`` of that schema replayed under each new name
   (the copies have the same tables, indexes, constraints, sequences and migration rows);
   insert their platform rows (tenant, domain, owner account, membership) in bulk; ANALYZE.
2. Pool path: N signups through ``services.workspace_signup`` with the pool at its production
   size; after each one, outside the timed region, ``services.spare_pool_replenish`` tops the
   pool up as the Celery task would. Passwords are hashed with the configured hasher (what
   production uses), timed separately, so figures are given with and without hashing.
   A few warm-up signups run first and are reported separately.
3. Fallback path: a few signups with the pool empty (a schema is migrated during signup).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from django.contrib.auth.hashers import BasePasswordHasher

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import (  # noqa: E402
    drop_database,
    nearest_rank,
    recreate_database,
    with_database,
)

TEMPLATE_SCHEMA = "ws_bench_template"
TARGET_P95_MS = 300.0
SIGNUP_PASSWORD = "a-long-enough-passphrase"  # noqa: S105
HASHING_SECONDS: list[float] = []


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="rapport_bench", help="throwaway database name")
    parser.add_argument("--existing", type=int, default=1000, help="workspaces before signup")
    parser.add_argument("--signups", type=int, default=200, help="timed pool-path signups")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed signups first (imports, caches)"
    )
    parser.add_argument("--fallback", type=int, default=5, help="timed empty-pool signups")
    parser.add_argument("--pool-size", type=int, default=5, help="SPARE_WORKSPACE_POOL_SIZE")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def machine(database_url: str) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT version()").fetchone()
    import django

    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "PostgreSQL": row[0] if row else "unknown",
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "OS": platform.platform(),
    }


@contextmanager
def step(label: str, timings: dict[str, float]) -> Iterator[None]:
    print(f"  {label}…", end="", flush=True)
    started = time.perf_counter()
    yield
    timings[label] = time.perf_counter() - started
    print(f" {timings[label]:.1f} s", flush=True)


def summary(samples_ms: list[float]) -> str:
    return (
        f"n={len(samples_ms)}  median {statistics.median(samples_ms):.1f} ms  "
        f"p95 {nearest_rank(samples_ms, 95):.1f} ms  max {max(samples_ms):.1f} ms"
    )


def setup_django(database_url: str, pool_size: int) -> None:
    # Development settings with real PostgreSQL and Redis: the same code paths as production,
    # the production password hasher, and Celery publishing to the broker rather than eager.
    common.setup_django(database_url, SPARE_WORKSPACE_POOL_SIZE=str(pool_size))


def clone_existing(
    *, database_url: str, count: int, timings: dict[str, float]
) -> list[tuple[str, str]]:
    """Create ``count`` workspace schemas; return (schema_name, slug) for each."""
    from tenants.models import Tenant

    with step("1 workspace schema through the spare path (migrations)", timings):
        Tenant(schema_name=TEMPLATE_SCHEMA, state=Tenant.State.SPARE).save(verbosity=0)

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        sys.exit("pg_dump is needed to copy the workspace schema; install the PostgreSQL client.")
    command = [pg_dump, "--schema", TEMPLATE_SCHEMA, "--inserts", "--no-owner", "--no-privileges"]
    dump = subprocess.run(  # noqa: S603
        [*command, "--dbname", database_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Recent pg_dump versions wrap the script in psql meta-commands (\\restrict); plain SQL only.
    dump = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))

    workspaces = [(TEMPLATE_SCHEMA, "bench-0000")]
    label = f"{count - 1} copies of it (pg_dump replayed)"
    with step(label, timings), psycopg.connect(database_url) as conn:
        for n in range(1, count):
            schema = f"ws_bench_{n:04d}"
            conn.execute(dump.replace(TEMPLATE_SCHEMA, schema).encode())
            workspaces.append((schema, f"bench-{n:04d}"))
            if n % 100 == 0:
                conn.commit()
        conn.commit()
        differing = conn.execute(
            """
            SELECT count(*) FROM (
                SELECT ns.nspname, count(*) AS relations
                FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                WHERE ns.nspname LIKE 'ws\\_bench\\_%%'
                GROUP BY ns.nspname
            ) per_schema
            WHERE relations <> (
                SELECT count(*) FROM pg_class c JOIN pg_namespace ns
                ON ns.oid = c.relnamespace WHERE ns.nspname = %s
            )
            """,
            [TEMPLATE_SCHEMA],
        ).fetchone()
    if differing is None or differing[0] != 0:
        sys.exit("A copied schema does not have the template's relations.")
    return workspaces


def insert_platform_rows(workspaces: list[tuple[str, str]], timings: dict[str, float]) -> None:
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from tenants.models import Domain, Membership, Plan, Tenant, User
    from tenants.roles import Role

    with step(f"platform rows for {len(workspaces)} workspaces (bulk insert)", timings):
        now = timezone.now()
        template = Tenant.objects.get(schema_name=TEMPLATE_SCHEMA)
        fields: dict[str, Any] = {
            "state": Tenant.State.ACTIVE,
            "plan": Plan.TRIAL,
            "seat_limit": settings.TRIAL_SEAT_LIMIT,
            "trial_ends_at": now + timedelta(days=settings.TRIAL_DAYS),
            "activated_at": now,
        }
        Tenant.objects.filter(pk=template.pk).update(
            name="Bench 0000", slug=workspaces[0][1], **fields
        )
        Tenant.objects.bulk_create(
            Tenant(schema_name=schema, name=f"Bench {slug[-4:]}", slug=slug, **fields)
            for schema, slug in workspaces[1:]
        )
        tenants = {t.schema_name: t for t in Tenant.objects.exclude(schema_name="public")}
        Domain.objects.bulk_create(
            Domain(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenants[schema], is_primary=True)
            for schema, slug in workspaces
        )
        password = make_password(None)  # unusable: these accounts never sign in
        users = User.objects.bulk_create(
            User(email=f"owner@{slug}.example.com", full_name=f"Owner {slug}", password=password)
            for _, slug in workspaces
        )
        Membership.objects.bulk_create(
            Membership(user=user, tenant=tenants[schema], role=Role.OWNER)
            for user, (schema, _) in zip(users, workspaces, strict=True)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed_production_hasher() -> str:
    """The dotted path of the configured (production) hasher, unchanged but for recording the
    time each hash takes."""
    from django.contrib.auth.hashers import get_hasher

    base = type(get_hasher("default"))

    def encode(self: BasePasswordHasher, password: str, salt: str, *args: Any) -> str:
        started = time.perf_counter()
        try:
            return base.encode(self, password, salt, *args)
        finally:
            HASHING_SECONDS.append(time.perf_counter() - started)

    timed = type(f"Timed{base.__name__}", (base,), {"encode": encode})
    globals()[timed.__name__] = timed
    return f"{__name__}.{timed.__name__}"


@dataclass
class Signups:
    total_ms: list[float] = field(default_factory=list)
    hashing_ms: list[float] = field(default_factory=list)
    without_hashing_ms: list[float] = field(default_factory=list)
    claimed_spare: int = 0


def run_signups(*, count: int, prefix: str, before_each: Callable[[], None]) -> Signups:
    from tenants import services
    from tenants.models import Tenant

    signups = Signups()
    for n in range(count):
        before_each()
        spares = set(
            Tenant.objects.filter(state=Tenant.State.SPARE).values_list("schema_name", flat=True)
        )
        HASHING_SECONDS.clear()
        started = time.perf_counter()
        result = services.workspace_signup(
            company_name=f"Signup {prefix} {n}",
            slug=f"{prefix}-{n:04d}",
            full_name=f"Person {n}",
            email=f"person{n}@{prefix}.example.com",
            password=SIGNUP_PASSWORD,
        )
        elapsed = time.perf_counter() - started
        hashing = sum(HASHING_SECONDS)
        signups.total_ms.append(elapsed * 1000)
        signups.hashing_ms.append(hashing * 1000)
        signups.without_hashing_ms.append((elapsed - hashing) * 1000)
        signups.claimed_spare += result.tenant.schema_name in spares
    return signups


def main() -> int:
    args = parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (any database on the server to use) and REDIS_URL.")
    database_url = with_database(server_url, args.database)
    timings: dict[str, float] = {}
    load_before = os.getloadavg()
    started = time.perf_counter()

    print(f"Setup: database {args.database}, {args.existing} existing workspaces")
    with step(f"create database {args.database}", timings):
        recreate_database(server_url, args.database)
    try:
        setup_django(database_url, args.pool_size)
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import override_settings

        import crm_platform
        from tenants import services
        from tenants.models import Tenant

        with step("migrate the public schema", timings):
            call_command("migrate_schemas", shared=True, verbosity=0, interactive=False)
        workspaces = clone_existing(database_url=database_url, count=args.existing, timings=timings)
        insert_platform_rows(workspaces, timings)
        with step(f"fill the spare pool to {args.pool_size}", timings):
            services.spare_pool_replenish(target=args.pool_size)
        setup_seconds = time.perf_counter() - started
        print(f"  setup total {setup_seconds:.1f} s")

        replenish_ms: list[float] = []

        def top_up() -> None:
            begun = time.perf_counter()
            if services.spare_pool_replenish(target=args.pool_size):
                replenish_ms.append((time.perf_counter() - begun) * 1000)

        def pool_is_empty() -> None:
            if Tenant.objects.filter(state=Tenant.State.SPARE).exists():
                raise RuntimeError("the pool should be empty for the fallback path")

        hasher_path = timed_production_hasher()
        with override_settings(DEBUG=False, PASSWORD_HASHERS=[hasher_path]):
            # A fresh process pays once for imports, template and password-list loading, and
            # its first connection; a serving process has paid already.
            warmup = run_signups(count=args.warmup, prefix="warmup", before_each=top_up)
            replenish_ms.clear()
            print(f"\nPool path: {args.signups} signups, pool topped up between them")
            pool = run_signups(count=args.signups, prefix="pool", before_each=top_up)
            for spare in Tenant.objects.filter(state=Tenant.State.SPARE):
                services.workspace_delete(tenant=spare, actor=None)
            print(f"Fallback path: {args.fallback} signups with the pool empty")
            fallback = run_signups(
                count=args.fallback, prefix="fallback", before_each=pool_is_empty
            )
        workspaces_at_end = Tenant.objects.exclude(schema_name="public").count()
        connection.close()
        crm_platform.celery_app.control.purge()
    finally:
        if not args.keep:
            drop_database(server_url, args.database)

    report(
        args=args,
        machine_facts=machine(server_url),
        load=(load_before[0], os.getloadavg()[0]),
        timings=timings,
        setup_seconds=setup_seconds,
        pool=pool,
        warmup=warmup,
        replenish_ms=replenish_ms,
        fallback=fallback,
        workspaces_at_end=workspaces_at_end,
        wall_seconds=time.perf_counter() - started,
    )
    return 0


def report(
    *,
    args: argparse.Namespace,
    machine_facts: dict[str, str],
    load: tuple[float, float],
    timings: dict[str, float],
    setup_seconds: float,
    pool: Signups,
    warmup: Signups,
    replenish_ms: list[float],
    fallback: Signups,
    workspaces_at_end: int,
    wall_seconds: float,
) -> None:
    print("\nMachine")
    for key, value in machine_facts.items():
        print(f"  {key}: {value}")
    print(f"  load average (1 min): {load[0]:.2f} at the start, {load[1]:.2f} at the end")

    print("\nSetup")
    for label, seconds in timings.items():
        print(f"  {label}: {seconds:.1f} s")
    print(f"  total: {setup_seconds:.1f} s")

    warmup_ms = ", ".join(f"{ms:.0f}" for ms in warmup.total_ms)
    print(f"\nWarm-up signups, not counted below (ms): {warmup_ms}")
    print(f"\nSignup server time, pool path ({args.existing} existing workspaces at the start)")
    print(f"  total:             {summary(pool.total_ms)}")
    print(f"  password hashing:  {summary(pool.hashing_ms)}")
    print(f"  excluding hashing: {summary(pool.without_hashing_ms)}")
    print(f"  signups that claimed a spare: {pool.claimed_spare} of {args.signups}")
    if replenish_ms:
        print(f"  pool top-up per spare created (untimed above): {summary(replenish_ms)}")

    print("\nSignup server time, fallback path (pool empty, schema migrated during signup)")
    print(f"  total:             {summary(fallback.total_ms)}")
    print(f"  excluding hashing: {summary(fallback.without_hashing_ms)}")
    print(f"  signups that claimed a spare: {fallback.claimed_spare} of {args.fallback}")

    print(f"\nTarget: signup p95 < {TARGET_P95_MS:.0f} ms with {args.existing} existing workspaces")
    for label, samples in (
        ("pool path, total", pool.total_ms),
        ("pool path, excluding password hashing", pool.without_hashing_ms),
    ):
        p95 = nearest_rank(samples, 95)
        print(f"  {label}: p95 {p95:.1f} ms, {'met' if p95 < TARGET_P95_MS else 'NOT met'}")
    print(f"\nWorkspaces at the end: {workspaces_at_end}")
    print(f"Benchmark wall time: {wall_seconds:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())
