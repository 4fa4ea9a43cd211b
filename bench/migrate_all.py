"""migrate_all across many workspace schemas: first migration, no-op run, additive migration.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    uv run python bench/migrate_all.py --schemas 200 --workers 2

DATABASE_URL names the server; the benchmark creates the database `rapport_bench_migrate`,
drops it at the end (unless --keep), and never touches the database in the URL.

1. N workspaces are created with empty schemas (platform rows in bulk), then `migrate_all`
   brings every schema from nothing to the current migrations (timed: the first migration).
2. `migrate_all` again with nothing to apply (timed: the no-op run a deploy makes when a release
   has no workspace migration).
3. A one-column additive migration (AddField, nullable) is written into the probe app, and
   `migrate_all` applies it to every schema (timed: the additive run).

With --clone, step 1 migrates one workspace and copies its schema into the others (a
``pg_dump`` of it replayed under each name, --clone-connections copies at a time), so that
2,000 workspaces are ready without migrating each; the no-op and additive runs are then
measured on those.

--setup-only stops after the setup and keeps the database; --reuse then measures on it without
setting up again (so the setup can run while the machine is busy, and the measurement when it
is idle). Each --reuse run adds one more column, so a kept database can be measured again.

--watch-users reads one row of `public.tenants_user` every 20 ms on its own connection during
each run and prints how long those reads took (every request reads that table, so a run that
locks it stalls sign-ins and pages). With --reuse on a database set up by an older version,
the first run applies that version's pending migrations: what a rollout costs the users.

--fail-one makes the additive migration fail in one workspace (the column is already there),
prints that run's report (every other workspace migrated, the one reported as failed), then
removes the obstacle and runs again: the rerun applies only what is left.

Every run is `python manage.py migrate_all --workers K` in a subprocess, as the Job runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent

INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Probe",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
            ],
        ),
    ]
"""

ADDITIVE = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("bench_probe", "{previous}")]
    operations = [
        migrations.AddField(
            model_name="probe", name="note_{number}", field=models.TextField(null=True, blank=True)
        ),
    ]
"""


def probe_migration_name(number: int) -> str:
    return "0001_initial" if number == 1 else f"{number:04d}_probe_note_{number}"


def write_probe_migration(probe_root: Path, number: int) -> None:
    """The probe app's migration ``number`` (2 and up: one nullable column each)."""
    text = ADDITIVE.format(previous=probe_migration_name(number - 1), number=number)
    path = probe_root / "bench_probe" / "migrations" / f"{probe_migration_name(number)}.py"
    path.write_text(text)


def run_migrate_all(
    env: dict[str, str], workers: int, *extra: str, may_fail: bool = False
) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate_all", f"--workers={workers}", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0 and not may_fail:
        sys.exit(f"migrate_all failed ({result.returncode}):\n{result.stderr[-3000:]}")
    if result.returncode != 0:
        failed = [line for line in result.stdout.splitlines() if '"schema_failed"' in line]
        print(f"  exit status {result.returncode}; {len(failed)} schema_failed line(s)")
        for line in failed[:3]:
            print(f"  {line[:300]}")
    return elapsed, result.stdout.strip().splitlines()[-1]


WATCH_USER = (
    "INSERT INTO public.tenants_user (password, is_superuser, is_staff, is_active, date_joined,"
    " email, full_name, language, time_zone)"
    " VALUES ('!', false, false, true, now(), 'watch@bench.example', 'Watch', 'en', 'UTC')"
    " ON CONFLICT DO NOTHING"
)


@contextlib.contextmanager
def user_table_watch(url: str | None) -> Iterator[None]:
    """While the block runs, read one user row every 20 ms; print the reads' times after."""
    if url is None:
        yield
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(WATCH_USER)
        row = conn.execute(
            "SELECT id FROM public.tenants_user WHERE email = 'watch@bench.example'"
        ).fetchone()
    user_id = row[0] if row else 0
    times: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                started = time.monotonic()
                conn.execute("SELECT last_login FROM public.tenants_user WHERE id = %s", [user_id])
                times.append((time.monotonic() - started) * 1000)
                stop.wait(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if times:
            ordered = sorted(times)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(
                f"  user-table reads during the run: {len(times)}, median "
                f"{statistics.median(times):.2f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.0f} ms,"
                f" over 100 ms: {sum(1 for t in times if t > 100)},"
                f" total time over 100 ms: {sum(t for t in times if t > 100) / 1000:.1f} s"
            )


TENANT_ROW = (
    "INSERT INTO public.tenants_tenant (schema_name, name, state, plan, seat_limit, time_zone,"
    " currency, require_mfa_for_admins, billing_status, created_at)"
    " VALUES (%s, '', 'spare', 'trial', 10, 'UTC', 'USD', false, 'trialing', now())"
)


def create_empty_workspaces(url: str, indexes: range) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        for index in indexes:
            name = f"ws_bench_{index:05d}"
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
            cursor.execute(TENANT_ROW, [name])


def clone_workspace(url: str, *, template: str, count: int, connections: int) -> None:
    """Copy ``template`` into workspaces 1..count-1, ``connections`` copies at a time."""
    dump = subprocess.run(  # noqa: S603
        ["pg_dump", "--schema", template, "--inserts", "--no-owner", "--no-privileges", url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dump = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))

    with psycopg.connect(url) as conn:
        there = {
            row[0]
            for row in conn.execute("SELECT schema_name FROM public.tenants_tenant").fetchall()
        }

    def copy_every(start: int) -> None:
        names = [f"ws_bench_{index:05d}" for index in range(start, count, connections)]
        names = [name for name in names if name not in there]  # an interrupted setup resumes
        with psycopg.connect(url) as conn:
            # Commits wait for nothing: a setup interrupted by a crash is started over.
            conn.execute("SET synchronous_commit = off")
            for name in names:
                conn.execute(dump.replace(template, name).encode())
                conn.execute(TENANT_ROW, [name])
                # One workspace per transaction: each holds a lock per table it creates.
                conn.commit()

    # psycopg releases the GIL while PostgreSQL works, so threads keep every connection busy.
    with ThreadPoolExecutor(max_workers=connections) as pool:
        for done in [pool.submit(copy_every, 1 + offset) for offset in range(connections)]:
            done.result()


def probe_app() -> Path:
    """A temporary directory holding the probe app with its first migration only."""
    probe_root = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    migrations_dir = probe_root / "bench_probe" / "migrations"
    migrations_dir.mkdir(parents=True)
    (probe_root / "bench_probe" / "__init__.py").write_text("")
    (migrations_dir / "__init__.py").write_text("")
    (migrations_dir / "0001_initial.py").write_text(INITIAL)
    return probe_root


def set_up(env: dict[str, str], url: str, args: argparse.Namespace) -> None:
    """Migrate the public schema and bring every workspace to the current migrations."""
    public_seconds, _ = run_migrate_all(env, args.workers)
    print(f"public schema migrate (empty database): {public_seconds:8.1f} s", flush=True)
    first_count = 1 if args.clone else args.schemas
    create_empty_workspaces(url, range(first_count))
    first_seconds, first_line = run_migrate_all(env, args.workers, "--skip-public")
    if not args.clone:
        print(f"first migration of every workspace:     {first_seconds:8.1f} s  {first_line}")
        return
    print(f"first migration of one workspace:       {first_seconds:8.1f} s  {first_line}")
    started = time.monotonic()
    clone_workspace(
        url, template="ws_bench_00000", count=args.schemas, connections=args.clone_connections
    )
    clone_seconds = time.monotonic() - started
    print(f"{args.schemas - 1} copies of it (not migrations):   {clone_seconds:8.1f} s")


def measure(env: dict[str, str], url: str, probe_root: Path, args: argparse.Namespace) -> None:
    """The no-op run, then a one-column additive migration, each timed. The probe's
    migrations the database already has are written first, so a kept database can be measured
    again (each time with one more column)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM ws_bench_00000.django_migrations WHERE app = 'bench_probe'"
        ).fetchone()
    applied = row[0] if row else 0
    for number in range(2, applied + 1):
        write_probe_migration(probe_root, number)
    watched = url if args.watch_users else None
    with user_table_watch(watched):
        noop_seconds, noop_line = run_migrate_all(env, args.workers, "--skip-public")
    applied_now = json.loads(noop_line)["migrated"]
    label = "pending migrations of this version:" if applied_now else "no-op run:"
    print(f"{label:<40}{noop_seconds:8.1f} s  {noop_line}")
    write_probe_migration(probe_root, applied + 1)
    column = f"note_{applied + 1}"
    broken = f"ws_bench_{args.schemas // 2:05d}"
    if args.fail_one:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER TABLE {}.bench_probe_probe ADD COLUMN {} text").format(
                    sql.Identifier(broken), sql.Identifier(column)
                )
            )
    with user_table_watch(watched):
        additive_seconds, additive_line = run_migrate_all(
            env, args.workers, "--skip-public", may_fail=args.fail_one
        )
    print(f"additive migration (one column):        {additive_seconds:8.1f} s  {additive_line}")
    if args.fail_one:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER TABLE {}.bench_probe_probe DROP COLUMN {}").format(
                    sql.Identifier(broken), sql.Identifier(column)
                )
            )
        rerun_seconds, rerun_line = run_migrate_all(env, args.workers, "--skip-public")
        print(f"rerun once {broken} is repaired:    {rerun_seconds:8.1f} s  {rerun_line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schemas", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="rapport_bench_migrate")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--clone", action="store_true", help="migrate one workspace, copy it into the others"
    )
    parser.add_argument(
        "--clone-connections",
        type=int,
        default=os.cpu_count() or 2,
        help="copies made at a time with --clone (one connection each)",
    )
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument(
        "--setup-only",
        action="store_true",
        help="create and migrate the workspaces, keep the database, measure nothing",
    )
    phase.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the database a --setup-only run left (no setup)",
    )
    parser.add_argument(
        "--watch-users",
        action="store_true",
        help="time reads of the user table during each run",
    )
    parser.add_argument(
        "--fail-one",
        action="store_true",
        help="make the additive migration fail in one workspace, then repair it and rerun",
    )
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL")
    if not server:
        sys.exit("Set DATABASE_URL to a PostgreSQL server (its database is not touched).")
    base, _, _ = server.rpartition("/")
    url = f"{base}/{args.database}"
    if not args.reuse:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(args.database))
            )
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.database)))

    probe_root = probe_app()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="bench.migrate_settings",
        PYTHONPATH=os.pathsep.join([str(probe_root), str(ROOT)]),
        LOG_LEVEL="WARNING",
    )
    env.pop("REDIS_URL", None)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"workspaces: {args.schemas}, workers: {args.workers}", flush=True)
    try:
        if not args.reuse:
            set_up(env, url, args)
        if not args.setup_only:
            measure(env, url, probe_root, args)
    finally:
        if not (args.keep or args.setup_only):
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(args.database)
                    )
                )


if __name__ == "__main__":
    main()
