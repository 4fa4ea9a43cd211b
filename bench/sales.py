"""The sales pages and API at scale, through the real URL stack.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/seed_large.py --database bench_large       # 1,000,000 contacts
    uv run python bench/sales.py --database bench_large

DATABASE_URL names the PostgreSQL server; the workspace is the one ``bench/seed_large.py``
built in --database (contacts, companies, deals in one pipeline, a timeline, custom fields).
Run it against a seed of 10,000 contacts and one of 1,000,000 to see whether cost stays flat.

It prints, per operation, the median and p95 server time of N requests made with Django's test
client (middleware, permission check, selector, template or serializer), the p95 of the time
the database took for all of a request's queries, and the number of queries each ran: the
contact list (first and next page, filtered by owner, lifecycle stage and custom fields, and
sorted by a custom field — filtered, and over the whole list, ADR 0070), a
contact's page with the first page of its timeline (and, apart, the other modules' panels
the page fetches once shown), the home page (the Owner's day: tasks, deals closing, recent
activity on 75,000 records of theirs, the pipeline at a glance), the global search in each
script, the kanban board of the pipeline holding every deal, and the API's contact and deal
lists with a workspace API key (``Authorization: Bearer``).

``seed`` (contacts only, by COPY) is kept for the benchmarks that build on it
(``bench/segments.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import FIRST as COMMON_FIRST  # noqa: E402
from bench.common import LAST as COMMON_LAST  # noqa: E402
from bench.common import (  # noqa: E402
    SLUG,
    measure,
    render_as_served,
    server_url,
    setup_django,
    with_database,
)

FIRST = {
    **COMMON_FIRST,
    # Given names of one or two characters from a pool of common ones, as Chinese names are.
    "zh": [a + b for a in "伟芳娜敏静磊洋艳勇军杰娟涛明超秀霞平刚桂" for b in ("", *"华英兰丽")],
}
LAST = {
    **COMMON_LAST,
    "zh": list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"),
}
STAGES = ["subscriber", "lead", "qualified", "opportunity", "customer", "evangelist"]
# A term of each script for the global search (contacts, companies, deals, leads).
GLOBAL_SEARCHES = {
    "English": "johnson",
    "Russian": "смирнова",
    "Italian": "rossi",
    "Thai": "ใจดี",
    "Chinese": "王芳",
    "Chinese, one character": "芳",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_large")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per operation")
    parser.add_argument("--only", default="", help="measure the operations whose label has this")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print where the time of each measured operation goes (cProfile, top 25)",
    )
    return parser.parse_args()


def profile(client: Any, path: str, n: int) -> None:
    """The functions that took the most time, cumulatively, over ``n`` requests."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        client.get(path)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def seed(database_url: str, schema: str, owner_id: int, count: int) -> None:
    # The search text the contact services write, so searches find what they would.
    from crm_modules.sales.services.checks import searchable, unspaced_name
    from crm_modules.sales.services.duplicates import contact_name_key

    rng = random.Random(7)
    batch = 50_000
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        done = conn.execute("SELECT count(*) FROM sales_contact").fetchone()[0]  # type: ignore[index]
        while done < count:
            size = min(batch, count - done)
            with conn.cursor().copy(
                "COPY sales_contact (first_name, last_name, job_title, lifecycle_stage, owner_id,"
                " tags, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content,"
                " preferred_channel, notes, primary_email, primary_phone, search_text,"
                " street, city, region, postal_code, country, custom, created_at, updated_at,"
                " time_zone, first_touch, last_touch, language, name_key, score, score_breakdown)"
                " FROM STDIN"
            ) as copy:
                for n in range(done, done + size):
                    lang = rng.choice(list(FIRST))
                    first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
                    email = f"c{n}.{rng.choice(FIRST['en']).lower()}@example.com"
                    phone = f"+3906{n:08d}"
                    stage = rng.choice(STAGES)
                    text = searchable(
                        first, last, unspaced_name(first, last), email, phone, phone[1:]
                    )
                    copy.write_row(
                        (
                            first,
                            last,
                            "",
                            stage,
                            owner_id,
                            "{}",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            email,
                            phone,
                            text,
                            "",
                            "",
                            "",
                            "",
                            "",
                            "{}",
                            stamp,
                            stamp,
                            "",
                            "{}",
                            "{}",
                            "",
                            contact_name_key(first, last),
                            0,
                            "{}",
                        )
                    )
            conn.commit()
            done += size
            print(f"  {done:,} contacts ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.commit()
        conn.autocommit = True
        # What autovacuum does soon after a bulk load: the GIN indexes' pending lists merged.
        conn.execute("VACUUM ANALYZE sales_contact")
        conn.autocommit = False
        conn.commit()
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def workspace_counts() -> dict[str, int]:
    from crm_modules.activities.models import Activity, ActivityLink
    from crm_modules.sales.models import Company, Contact, CustomField, Deal, Task

    return {
        "contacts": Contact.objects.count(),
        "companies": Company.objects.count(),
        "deals": Deal.objects.count(),
        "activities": Activity.objects.count(),
        "timeline links": ActivityLink.objects.count(),
        "tasks": Task.objects.count(),
        "custom fields": CustomField.objects.count(),
    }


def main() -> None:
    args = parse_args()
    database_url = with_database(server_url(), args.database)
    # Pooled connections, as production serves requests.
    setup_django(database_url, pooled=True)

    from django.conf import settings
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django_tenants.utils import schema_context

    from crm_modules.activities.models import ActivityLink
    from crm_modules.integrations.services import api_key_create
    from crm_modules.sales.models import Contact, CustomField
    from tenants.middleware import SESSION_WORKSPACE_KEY
    from tenants.models import Membership, Tenant
    from tenants.roles import Role

    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        sys.exit(f"No workspace in {args.database}: run bench/seed_large.py first.")
    membership = Membership.objects.get(tenant=tenant, role=Role.OWNER)
    owner = membership.user
    with schema_context(tenant.schema_name):
        counts = workspace_counts()
        if not counts["contacts"] or not CustomField.objects.filter(code="tier").exists():
            sys.exit(f"{args.database} holds no seeded workspace: run bench/seed_large.py.")
        # The contact with the longest timeline, and one with an ordinary one.
        busiest = (
            ActivityLink.objects.filter(target_type="sales.contact")
            .values("target_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        middle = Contact.objects.order_by("id").values_list("id", flat=True)[
            counts["contacts"] // 2
        ]
        key = api_key_create(actor=membership, name="Benchmark", read_only=True).raw

    setup_test_environment()
    settings.DEBUG = False
    client = Client(HTTP_HOST=f"{SLUG}.localhost")
    client.force_login(owner, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    session[SESSION_WORKSPACE_KEY] = tenant.pk
    session.save()
    api = Client(HTTP_HOST=f"{SLUG}.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")

    first_page = client.get("/sales/contacts/")
    cursor = first_page.context["page"].next_cursor
    sorted_path = "/sales/contacts/?mine=1&stage=customer&cf_tier=gold&sort=-cf_seats"
    sorted_cursor = client.get(sorted_path).context["page"].next_cursor
    render_as_served()  # the cursors were read from the context; time what a server pays
    busiest_id = busiest["target_id"] if busiest else middle
    busiest_links = busiest["n"] if busiest else 0
    operations: dict[str, tuple[Client, str]] = {
        "home page (my day, pipeline at a glance)": (client, "/"),
        "contact list, first page": (client, "/sales/contacts/"),
        "contact list, next page (keyset)": (client, f"/sales/contacts/?after={cursor}"),
        "contact list, mine + stage + tier (select)": (
            client,
            "/sales/contacts/?mine=1&stage=customer&cf_tier=gold",
        ),
        "contact list, mine + stage + seats >= 4000": (
            client,
            "/sales/contacts/?mine=1&stage=customer&cf_seats__gte=4000",
        ),
        "contact list, mine + stage + sector contains": (
            client,
            "/sales/contacts/?mine=1&stage=customer&cf_sector__contains=bank",
        ),
        "contact list, mine + stage + tier, sorted by seats": (client, sorted_path),
        "contact list, same, next page (keyset)": (
            client,
            f"{sorted_path}&after={quote(sorted_cursor)}",
        ),
        "contact list, all, sorted by seats (top-N)": (client, "/sales/contacts/?sort=-cf_seats"),
        f"contact page + timeline ({busiest_links} entries)": (
            client,
            f"/sales/contacts/{busiest_id}/",
        ),
        "contact page + timeline (ordinary contact)": (client, f"/sales/contacts/{middle}/"),
        "contact page's panels, fetched once shown": (client, f"/sales/contacts/{middle}/panels/"),
        **{
            f"global search, {script} ({term})": (client, f"/sales/search/?q={quote(term)}")
            for script, term in GLOBAL_SEARCHES.items()
        },
        "kanban board (every deal in one pipeline)": (client, "/sales/deals/"),
        "API contacts list (Bearer key)": (api, "/api/v1/sales/contacts/"),
        "API deals list (Bearer key)": (api, "/api/v1/sales/deals/"),
        "API contacts, tier filter (cf_tier=gold)": (api, "/api/v1/sales/contacts/?cf_tier=gold"),
        "API contacts, tier filter sorted by seats": (
            api,
            "/api/v1/sales/contacts/?cf_tier=gold&sort=-cf_seats",
        ),
    }
    print(
        f"\n{args.database}: "
        + ", ".join(f"{count:,} {name}" for name, count in counts.items())
        + f"; {args.requests} requests per operation\n"
    )
    print(f"{'operation':52} {'median ms':>10} {'p95 ms':>8} {'SQL p95 ms':>11} {'queries':>8}")
    for label, (who, path) in operations.items():
        if args.only.lower() not in label.lower():
            continue
        median, p95, database_p95, queries = measure(who, path, args.requests)
        print(f"{label:52} {median:10.1f} {p95:8.1f} {database_p95:11.1f} {queries:8d}", flush=True)
        if args.profile:
            profile(who, path, args.requests)


if __name__ == "__main__":
    main()
