"""The sales dashboard at scale: each default chart's server time, through the real URL stack.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/dashboard.py --deals 300000 --activities 3000000

The script keeps its data in its own database (``bench_dashboard`` unless --database says
otherwise) so a seeded workspace is reused by the next run; --reseed starts over. Deals,
activities, leads and tasks are written with COPY, owned by --reps sales reps, spread over the
last eighteen months.

It prints, per default chart, the median and p95 server time of N requests of its card
(``/reporting/chart/?key=…``: middleware, permission check, compiled query, figure, template)
for the Owner (every record) and for one Sales rep (their own records) — computed (the card
cache made stale before each request, as after a change) and cached — then the dashboard's
shell (what paints first) and the time until every card of the page has arrived when a
browser fetches them over ``--parallel`` connections, cold and cached.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    add_reps,
    bench_database,
    create_sales_pipeline,
    measure,
    p95,
    provision,
    setup_django,
)

SOURCES = ["web", "fair", "referral", "ads", "partner", "cold call", "紹介", "выставка"]
KINDS = ["call", "meeting", "email", "note", "message", "stage_change"]
BATCH = 50_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dashboard")
    parser.add_argument("--deals", type=int, default=300_000)
    parser.add_argument("--activities", type=int, default=3_000_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument(
        "--contacts",
        type=int,
        default=1_000_000,
        help="contacts, as bench/seed_large.py writes them; about one in three gets a deal",
    )
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per chart")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--parallel", type=int, default=6, help="connections a browser opens to one host"
    )
    return parser.parse_args()


def provision_sales(reps: int) -> tuple[object, list[int]]:
    """The workspace, its pipeline and its reps; returns the tenant and the reps' user ids."""
    from django_tenants.utils import schema_context

    from crm_modules.sales.models import Pipeline
    from tenants.models import Tenant

    provision(every_schema=True)
    tenant = Tenant.objects.get(slug=SLUG)
    rep_ids = add_reps(tenant, reps)
    with schema_context(tenant.schema_name):
        if not Pipeline.objects.exists():
            create_sales_pipeline()
    return tenant, rep_ids


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def seed(database_url: str, schema: str, owners: list[int], args: argparse.Namespace) -> None:
    rng = random.Random(12)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        stages = conn.execute(
            "SELECT id, pipeline_id, kind FROM sales_stage ORDER BY position"
        ).fetchall()
        done = _count(conn, "sales_deal")
        while done < args.deals:
            size = min(BATCH, args.deals - done)
            with conn.cursor().copy(
                "COPY sales_deal (name, pipeline_id, stage_id, status, amount, currency,"
                " expected_close_date, owner_id, lost_reason, stage_entered_at, closed_at, custom,"
                " search_text, created_at, updated_at, tags) FROM STDIN"
            ) as copy:
                for n in range(done, done + size):
                    stage_id, pipeline_id, kind = rng.choice(stages)
                    created = now - timedelta(days=rng.uniform(0, 540))
                    closed = (
                        created + timedelta(days=rng.uniform(1, 60)) if kind != "open" else None
                    )
                    if closed is not None and closed > now:
                        closed = now
                    name = f"Deal {n}"
                    copy.write_row(
                        (
                            name,
                            pipeline_id,
                            stage_id,
                            kind,
                            Decimal(rng.randrange(100, 100_000)),
                            "USD",
                            (created + timedelta(days=45)).date(),
                            rng.choice(owners),
                            "",
                            closed or created,
                            closed,
                            "{}",
                            name.lower(),
                            created,
                            created,
                            "{}",
                        )
                    )
            conn.commit()
            done += size
            print(f"  {done:,} deals ({time.perf_counter() - started:.0f} s)", flush=True)

        won = [
            row[0]
            for row in conn.execute("SELECT id FROM sales_deal WHERE status = 'won' LIMIT 50000")
        ]
        done = _count(conn, "sales_lead")
        while done < args.leads:
            size = min(BATCH, args.leads - done)
            with conn.cursor().copy(
                "COPY sales_lead (first_name, last_name, email, phone, company_name, source,"
                " status, owner_id, notes, deal_id, search_text, created_at, updated_at, score,"
                " score_breakdown, first_touch, last_touch, tags, custom)"
                " FROM STDIN"
            ) as copy:
                for n in range(done, done + size):
                    deal = won[n] if n < len(won) and rng.random() < 0.5 else None
                    created = now - timedelta(days=rng.uniform(0, 540))
                    copy.write_row(
                        (
                            f"Lead{n}",
                            "",
                            "",
                            "",
                            "",
                            rng.choice(SOURCES),
                            "converted" if deal else rng.choice(["new", "working", "disqualified"]),
                            rng.choice(owners),
                            "",
                            deal,
                            f"lead{n}",
                            created,
                            created,
                            0,
                            "{}",
                            "{}",
                            "{}",
                            "{}",
                            "{}",
                        )
                    )
            conn.commit()
            done += size
            print(f"  {done:,} leads ({time.perf_counter() - started:.0f} s)", flush=True)

        done = _count(conn, "sales_task")
        while done < args.tasks:
            size = min(BATCH, args.tasks - done)
            with conn.cursor().copy(
                "COPY sales_task (title, due_at, priority, owner_id, done, done_at, created_at)"
                " FROM STDIN"
            ) as copy:
                for n in range(done, done + size):
                    due = now + timedelta(days=rng.uniform(-60, 30))
                    is_done = rng.random() < 0.6
                    copy.write_row(
                        (
                            f"Task {n}",
                            due,
                            2,
                            rng.choice(owners),
                            is_done,
                            due if is_done else None,
                            due,
                        )
                    )
            conn.commit()
            done += size
            print(f"  {done:,} tasks ({time.perf_counter() - started:.0f} s)", flush=True)

        done = _count(conn, "activities_activity")
        while done < args.activities:
            size = min(BATCH * 2, args.activities - done)
            with conn.cursor().copy(
                "COPY activities_activity (kind, subject, body, channel, direction, outcome,"
                " occurred_at, author_id, data, created_at) FROM STDIN"
            ) as copy:
                for _n in range(size):
                    when = now - timedelta(days=rng.uniform(0, 365))
                    copy.write_row(
                        (
                            rng.choice(KINDS),
                            "Hello",
                            "",
                            "",
                            "",
                            "",
                            when,
                            rng.choice(owners),
                            "{}",
                            when,
                        )
                    )
            conn.commit()
            done += size
            print(f"  {done:,} activities ({time.perf_counter() - started:.0f} s)", flush=True)
    seed_customers_and_history(database_url, schema, owners, args)
    seed_contacts(database_url, schema, owners, args)
    # COPY bypasses the timeline's writes, so the per-day rollup is recomputed once.
    from django_tenants.utils import schema_context

    from crm_modules.activities.api import activity_days_rebuild

    with schema_context(schema):
        days = activity_days_rebuild()
    # VACUUM too: index-only scans need the visibility map that a COPY leaves unset.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        conn.execute("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s ({days:,} activity-day rows)")


def seed_contacts(
    database_url: str, schema: str, owners: list[int], args: argparse.Namespace
) -> None:
    """The workspace's contacts (names in the five scripts, search text and name key, as
    bench/seed_large.py writes them) and one contact on each deal, so the contacts' lifetime
    values are computed over as many customers as a workspace of this size has."""
    from django_tenants.utils import schema_context

    from bench.sales import seed as seed_contact_rows
    from crm_modules.sales.models import Deal

    seed_contact_rows(database_url, schema, owners[0], args.contacts)
    with schema_context(schema):
        through = Deal.contacts.through._meta.db_table
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        contacts = _count(conn, "sales_contact")
        if not contacts or _count(conn, through):
            return
        started = time.perf_counter()
        conn.execute(
            f"INSERT INTO {through} (deal_id, contact_id) SELECT d.id, c.id FROM sales_deal d"  # noqa: S608
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM sales_contact) c"
            " ON c.n = (d.id * 3) %% %s",
            [contacts],
        )
        conn.commit()
    print(f"  a contact on each deal ({time.perf_counter() - started:.0f} s)", flush=True)


def seed_customers_and_history(
    database_url: str, schema: str, owners: list[int], args: argparse.Namespace
) -> None:
    """Companies for the deals (customer values, cohorts) and each deal's stage history: the
    stage it was created in, and the stage it is in now if that is another one."""
    from django_tenants.utils import schema_context

    from crm_modules.sales.models import Company

    started = time.perf_counter()
    with schema_context(schema):
        missing = args.companies - Company.objects.count()
        if missing > 0:
            Company.objects.bulk_create(
                [
                    Company(
                        name=f"Company {n}",
                        search_text=f"company {n}",
                        owner_id=owners[n % len(owners)],
                    )
                    for n in range(missing)
                ],
                batch_size=5000,
            )
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        if _count(conn, "sales_dealstagechange"):
            return
        conn.execute(
            "UPDATE sales_deal d SET company_id = c.id FROM ("
            " SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM sales_company) c"
            " WHERE c.n = d.id %% %s",
            [args.companies],
        )
        first = conn.execute(
            "SELECT id FROM sales_stage WHERE kind = 'open' ORDER BY position LIMIT 1"
        ).fetchone()
        if first is None:
            sys.exit("The pipeline has no open stage")
        conn.execute(
            "INSERT INTO sales_dealstagechange (deal_id, from_stage_id, to_stage_id, changed_at)"
            " SELECT id, NULL, %s, created_at FROM sales_deal",
            [first[0]],
        )
        conn.execute(
            "INSERT INTO sales_dealstagechange (deal_id, from_stage_id, to_stage_id, changed_at)"
            " SELECT id, %s, stage_id, stage_entered_at + interval '1 day' FROM sales_deal"
            " WHERE stage_id <> %s",
            [first[0], first[0]],
        )
        conn.execute(
            "UPDATE sales_dealstagechange c SET left_at = n.next_at FROM ("
            " SELECT id, lead(changed_at) OVER (PARTITION BY deal_id ORDER BY changed_at, id)"
            " AS next_at FROM sales_dealstagechange) n"
            " WHERE n.id = c.id AND n.next_at IS NOT NULL"
        )
        conn.commit()
    print(f"  companies and stage history ({time.perf_counter() - started:.0f} s)", flush=True)


def whole_dashboard(
    make_client: Callable[[], object], parallel: int, before: Callable[[], None] | None
) -> float:
    """Milliseconds from requesting the page until its last card has arrived, the cards
    fetched over ``parallel`` connections as a browser does after the shell paints."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if before is not None:
        before()
    local = threading.local()

    def fetch(url: str) -> int:
        if not hasattr(local, "client"):
            local.client = make_client()
        try:
            return int(local.client.get(url).status_code)
        finally:
            connection.close()

    started = time.perf_counter()
    shell = make_client().get("/reporting/")  # type: ignore[attr-defined]
    urls = [
        u.replace("&amp;", "&")
        for u in re.findall(r'hx-get="([^"]+)" hx-trigger="load"', shell.content.decode())
    ]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        statuses = list(pool.map(fetch, urls))
    if any(status != 200 for status in statuses):
        sys.exit(f"a card answered {statuses}")
    return (time.perf_counter() - started) * 1000


def browser(tenant: object, user: object) -> object:
    from django.test import Client

    from tenants.middleware import SESSION_WORKSPACE_KEY

    client = Client(HTTP_HOST=f"{SLUG}.localhost")
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")  # type: ignore[arg-type]
    session = client.session
    session[SESSION_WORKSPACE_KEY] = tenant.pk  # type: ignore[attr-defined]
    session.save()
    return client


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    setup_django(database_url)
    tenant, reps = provision_sales(args.reps)

    from django.conf import settings
    from django.test.utils import setup_test_environment

    from crm_modules.reporting.dashboard import DEFAULT_CHARTS
    from tenants.models import User

    seed(database_url, tenant.schema_name, reps, args)  # type: ignore[attr-defined]
    setup_test_environment()
    settings.DEBUG = False
    owner = tenant.memberships.get(role="owner").user  # type: ignore[attr-defined]
    viewers = {
        "owner": browser(tenant, owner),
        "rep": browser(tenant, User.objects.get(pk=reps[0])),
    }

    print(
        f"\n{args.contacts:,} contacts, {args.deals:,} deals, {args.activities:,} activities, "
        f"{args.leads:,} leads, "
        f"{args.tasks:,} tasks, {len(reps)} reps; {args.requests} requests per chart\n"
    )
    from django_tenants.utils import schema_context

    from crm_modules.reporting.services.customer_values import customer_values_recompute

    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        timings = []
        for _run in range(3):
            started = time.perf_counter()
            counts = customer_values_recompute()
            timings.append((time.perf_counter() - started) * 1000)
    print(
        f"customer values recompute: {counts} rows, "
        f"median {statistics.median(timings):.0f} ms of 3 runs\n"
    )
    from crm_modules.reporting.card_cache import generation_bump

    def stale() -> None:
        generation_bump(tenant=tenant)  # type: ignore[arg-type]

    print(
        f"{'chart':24} {'viewer':6} {'computed median':>16} {'p95 ms':>8} "
        f"{'cached median':>14} {'p95 ms':>8} {'queries':>8}"
    )
    for chart in DEFAULT_CHARTS:
        for who, client in viewers.items():
            path = f"/reporting/chart/?key={chart.key}"
            median, p95_ms, _db, queries = measure(client, path, args.requests, before=stale)
            warm_median, warm_p95, _db, _q = measure(client, path, args.requests)
            print(
                f"{chart.key:24} {who:6} {median:16.1f} {p95_ms:8.1f} {warm_median:14.1f} "
                f"{warm_p95:8.1f} {queries:8d}",
                flush=True,
            )
    users = {"owner": owner, "rep": User.objects.get(pk=reps[0])}
    runs = max(3, args.requests // 4)
    print(f"\n{'page':40} {'viewer':6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for who, client in viewers.items():
        median, p95_ms, _db, queries = measure(client, "/reporting/", runs)
        print(f"{'shell (first paint)':40} {who:6} {median:10.1f} {p95_ms:8.1f} {queries:8d}")
        user = users[who]

        def make_client(user: object = user) -> object:
            return browser(tenant, user)

        steps: tuple[tuple[str, Callable[[], None] | None], ...] = (
            ("computed", stale),
            ("cached", None),
        )
        for label, before in steps:
            samples = [whole_dashboard(make_client, args.parallel, before) for _ in range(runs)]
            print(
                f"{f'every card arrived, {label}, {args.parallel} conns':40} {who:6} "
                f"{statistics.median(samples):10.1f} {p95(samples):8.1f} {'':>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
