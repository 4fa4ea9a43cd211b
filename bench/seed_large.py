"""A large sales workspace, written with COPY, for ``bench/sales.py``.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/seed_large.py --database bench_large
    # --contacts 10000 scales every other count by the same factor

DATABASE_URL names the PostgreSQL server; the workspace is built in its own database
(``bench_large`` unless --database says otherwise), dropped and created again on every run.
At the default size: 1,000,000 contacts, 200,000 companies, 300,000 deals (one pipeline),
3,000,000 activities, 100,000 tasks, owned by the Owner and --reps Sales reps, names in
English, Russian, Italian, Thai and Chinese, and ten contact custom fields (created through the
sales service, so their definitions are valid) with a value of each on every contact.

What the services would have written beside the records is written too, in SQL after the
COPY: each contact's email and phone rows and company history (``CompanyMembership``), the
name-key table (its insert trigger fires on COPY), each deal's contact and stage history, the
timeline links of every activity (its contact and the contact's company, a deal and its
contact for one in four; one in ten goes to a thousandth of the contacts, so some timelines
hold about 300 entries), the activities-per-day rollup; then ``VACUUM ANALYZE``. The secondary
indexes of the loaded tables are dropped before the load and built again after it (their
definitions read from the catalogue), as a bulk load does. It prints its time.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    add_reps,
    bench_database,
    create_sales_pipeline,
    provision,
    setup_django,
)
from bench.sales import FIRST, LAST, STAGES  # noqa: E402  (the contacts bench/sales.py seeds)

FULL = {
    "contacts": 1_000_000,
    "companies": 200_000,
    "deals": 300_000,
    "activities": 3_000_000,
    "tasks": 100_000,
}
COMPANY_FORMS = {
    "en": "{} Holdings",
    "ru": "Группа {}",
    "it": "{} S.r.l.",
    "th": "บริษัท {}",
    "zh": "{}氏科技",
}
SUBJECTS = {
    "en": "Follow-up call",
    "ru": "Звонок по договору",
    "it": "Chiamata di verifica",
    "th": "โทรติดตามงาน",
    "zh": "电话跟进",
}
KINDS = ["call", "meeting", "email", "note"]
TIERS = ["bronze", "silver", "gold", "platinum", "diamond"]
TOPICS = ["crm", "erp", "bi", "hr", "web"]
# The ten contact fields: code, label, type, options.
CUSTOM_FIELDS: list[tuple[str, str, str, list[str]]] = [
    ("tier", "Tier", "select", TIERS),
    ("seats", "Seats", "number", []),
    ("arr", "Annual revenue", "decimal", []),
    ("renewal", "Renewal date", "date", []),
    ("vip", "VIP", "boolean", []),
    ("topics", "Topics", "multi_select", TOPICS),
    ("website", "Website", "url", []),
    ("billing_email", "Billing email", "email", []),
    ("budget", "Budget", "currency", []),
    ("sector", "Sector", "text", []),
]
SECTORS = ["retail", "logistics", "banking", "healthcare", "energy", "media", "education"]
BATCH = 50_000
# Records whose timelines are long: one in ten activities goes to this many contacts per
# million (about 300 entries each).
HOT_PER_MILLION = 1_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_large")
    parser.add_argument(
        "--contacts",
        type=int,
        default=FULL["contacts"],
        help="contacts; companies, deals, activities and tasks are scaled by the same factor",
    )
    parser.add_argument("--reps", type=int, default=19, help="Sales reps besides the Owner")
    return parser.parse_args()


def counts_for(contacts: int) -> dict[str, int]:
    factor = contacts / FULL["contacts"]
    return {name: max(1, round(full * factor)) for name, full in FULL.items()}


def provision_sales(reps: int) -> tuple[object, list[int]]:
    """The workspace, its reps, one pipeline, the ten custom fields; returns the tenant and
    the owners of records (the Owner first)."""
    from django_tenants.utils import schema_context

    from crm_modules.sales.models import Pipeline
    from crm_modules.sales.services.custom_fields import custom_field_create
    from tenants.models import Membership, Tenant
    from tenants.roles import Role

    provision()
    tenant = Tenant.objects.get(slug=SLUG)
    reps_ids = add_reps(tenant, reps)
    owner = Membership.objects.get(tenant=tenant, role=Role.OWNER)
    with schema_context(tenant.schema_name):
        Pipeline.objects.all().delete()
        create_sales_pipeline()
        for code, label, kind, options in CUSTOM_FIELDS:
            custom_field_create(
                actor=owner, entity="contact", code=code, label=label, type=kind, options=options
            )
    return tenant, [owner.user_id, *reps_ids]


def copy_text(value: object) -> str:
    """One value in COPY's text format (the generated values hold no tab, newline or
    backslash, which is checked)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if "\t" in text or "\n" in text or "\\" in text:
        raise ValueError(f"not a plain COPY value: {text!r}")
    return text


def copy_rows(
    conn: psycopg.Connection,
    table: str,
    columns: str,
    count: int,
    row: Callable[[int], Iterable[object]],
    started: float,
) -> None:
    """COPY ``count`` rows (``row(n)`` for n from 0) into ``table``, a batch a transaction."""
    done = 0
    while done < count:
        size = min(BATCH * 2, count - done)
        buffer = io.StringIO()
        for n in range(done, done + size):
            buffer.write("\t".join(copy_text(value) for value in row(n)))
            buffer.write("\n")
        with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
        done += size
    print(f"  {count:,} rows into {table} ({time.perf_counter() - started:.0f} s)", flush=True)


def secondary_indexes(conn: psycopg.Connection, tables: list[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes of ``tables`` that back no constraint."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        "  WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)",
        [tables],
    ).fetchall()
    return [(str(name), str(definition)) for name, definition in rows]


def custom_values(rng: random.Random, n: int, today: date) -> str:
    return json.dumps(
        {
            "tier": TIERS[rng.randrange(5)],
            "seats": rng.randrange(1, 5000),
            "arr": f"{rng.randrange(1000, 10_000_000)}.{rng.randrange(100):02d}",
            "renewal": (today + timedelta(days=rng.randrange(-365, 730))).isoformat(),
            "vip": rng.random() < 0.1,
            "topics": sorted(rng.sample(TOPICS, rng.randrange(1, 4)), key=TOPICS.index),
            "website": f"https://c{n}.example.com",
            "billing_email": f"billing{n}@example.com",
            "budget": f"{rng.randrange(100, 500_000)}.00",
            "sector": SECTORS[n % len(SECTORS)],
        },
        ensure_ascii=False,
    )


def seed(database_url: str, schema: str, owners: list[int], counts: dict[str, int]) -> None:
    from crm_modules.sales.services.checks import searchable
    from crm_modules.sales.services.contacts import search_text_for
    from crm_modules.sales.services.duplicates import company_name_key, contact_name_key

    rng = random.Random(7)
    now = datetime.now(UTC)
    today = now.date()
    started = time.perf_counter()
    languages = list(FIRST)
    n_contacts, n_companies = counts["contacts"], counts["companies"]
    n_deals, n_activities = counts["deals"], counts["activities"]
    hot = max(10, n_contacts * HOT_PER_MILLION // 1_000_000)

    company_base: dict[str, tuple[str, str]] = {}

    def company_name(n: int) -> tuple[str, str]:
        """Company n's name and name key; the key of "<base> <n>" is the base's key and n."""
        lang = languages[n % len(languages)]
        base = COMPANY_FORMS[lang].format(LAST[lang][(n // 5) % len(LAST[lang])])
        if base not in company_base:
            company_base[base] = (base, company_name_key(base))
        name = f"{base} {n}"
        return name, f"{company_base[base][1]} {n}"[:400]

    sample = company_name(12)
    if sample[1] != company_name_key(sample[0]):
        sys.exit(f"company name key differs: {sample}")
    name_keys: dict[tuple[str, str], str] = {}

    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        tables = [
            "sales_company",
            "sales_contact",
            "sales_contactnamekey",
            "sales_contactemail",
            "sales_contactphone",
            "sales_companymembership",
            "sales_deal",
            "sales_deal_contacts",
            "sales_dealstagechange",
            "sales_task",
            "activities_activity",
            "activities_activitylink",
        ]
        indexes = secondary_indexes(conn, tables)
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.commit()
        print(f"  {len(indexes)} secondary indexes dropped for the load", flush=True)

        def company_row(n: int) -> tuple[object, ...]:
            name, key = company_name(n)
            created = now - timedelta(days=n % 900)
            return (
                n + 1,
                name,
                f"c{n}.example.com",
                "",
                "",
                "",
                "",
                owners[n % len(owners)],
                "{}",
                "",
                "{}",
                searchable(name, f"c{n}.example.com", ""),
                key,
                created,
                created,
                "",
                "",
                "",
                "",
                "",
            )

        copy_rows(
            conn,
            "sales_company",
            "id, name, domain, website, industry, size, lifecycle_stage, owner_id, tags, notes,"
            " custom, search_text, name_key, created_at, updated_at, street, city, region,"
            " postal_code, country",
            n_companies,
            company_row,
            started,
        )

        def contact_row(n: int) -> tuple[object, ...]:
            lang = languages[rng.randrange(5)]
            first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
            # Four in five contacts work at a company.
            company = n % n_companies if n % 5 else None
            company_label = company_name(company)[0] if company is not None else ""
            email = f"c{n}.{rng.choice(FIRST['en']).lower()}@example.com"
            phone = f"+3906{n:08d}"
            key = name_keys.get((first, last))
            if key is None:
                key = name_keys[(first, last)] = contact_name_key(first, last)
            created = now - timedelta(seconds=(n_contacts - n) * 30)
            return (
                n + 1,
                first,
                last,
                "",
                company + 1 if company is not None else None,
                STAGES[rng.randrange(len(STAGES))],
                owners[n % len(owners)],
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
                search_text_for(first, last, [email], [phone], company_label),
                "",
                "",
                "",
                "",
                "",
                custom_values(rng, n, today),
                created,
                created,
                "",
                "{}",
                "{}",
                "",
                key,
                0,
                "{}",
            )

        copy_rows(
            conn,
            "sales_contact",
            "id, first_name, last_name, job_title, company_id, lifecycle_stage, owner_id, tags,"
            " source, utm_source, utm_medium, utm_campaign, utm_term, utm_content,"
            " preferred_channel, notes, primary_email, primary_phone, search_text, street, city,"
            " region, postal_code, country, custom, created_at, updated_at, time_zone,"
            " first_touch, last_touch, language, name_key, score, score_breakdown",
            n_contacts,
            contact_row,
            started,
        )
        # What the contact services write beside each contact.
        conn.execute(
            "INSERT INTO sales_contactemail (contact_id, email, is_primary)"
            " SELECT id, primary_email, true FROM sales_contact"
        )
        conn.execute(
            "INSERT INTO sales_contactphone (contact_id, number, label, is_primary)"
            " SELECT id, primary_phone, '', true FROM sales_contact"
        )
        conn.execute(
            "INSERT INTO sales_companymembership (contact_id, company_id, job_title, started_at)"
            " SELECT id, company_id, job_title, created_at FROM sales_contact"
            " WHERE company_id IS NOT NULL"
        )
        conn.commit()
        print(f"  contact emails, phones, company history ({time.perf_counter() - started:.0f} s)")

        stages = conn.execute(
            "SELECT s.id, s.pipeline_id, s.kind FROM sales_stage s ORDER BY s.position"
        ).fetchall()

        def deal_row(n: int) -> tuple[object, ...]:
            stage_id, pipeline_id, kind = stages[n % len(stages)]
            company = n % n_companies
            company_label = company_name(company)[0]
            name = f"{company_label} · {SUBJECTS[languages[n % 5]].split()[0]} {n}"
            created = now - timedelta(days=rng.uniform(0, 540))
            closed = None if kind == "open" else min(now, created + timedelta(days=30))
            return (
                n + 1,
                name,
                pipeline_id,
                stage_id,
                kind,
                f"{rng.randrange(100, 100_000)}.00",
                "EUR",
                (created + timedelta(days=45)).date(),
                owners[n % len(owners)],
                company + 1,
                "",
                closed or created,
                closed,
                "{}",
                searchable(name, company_label),
                created,
                created,
                "{}",
            )

        copy_rows(
            conn,
            "sales_deal",
            "id, name, pipeline_id, stage_id, status, amount, currency, expected_close_date,"
            " owner_id, company_id, lost_reason, stage_entered_at, closed_at, custom,"
            " search_text, created_at, updated_at, tags",
            n_deals,
            deal_row,
            started,
        )
        # Each deal's contact (deal d: contact (7 d mod contacts) + 1) and stage history: the
        # first stage, then the stage it is in when that is another.
        conn.execute(
            "INSERT INTO sales_deal_contacts (deal_id, contact_id)"
            " SELECT id, ((id - 1) * 7) %% %s + 1 FROM sales_deal",
            [n_contacts],
        )
        first_stage = stages[0][0]
        conn.execute(
            "INSERT INTO sales_dealstagechange (deal_id, from_stage_id, to_stage_id, changed_at,"
            " left_at) SELECT id, NULL, %s, created_at,"
            " CASE WHEN stage_id <> %s THEN stage_entered_at END FROM sales_deal",
            [first_stage, first_stage],
        )
        conn.execute(
            "INSERT INTO sales_dealstagechange (deal_id, from_stage_id, to_stage_id, changed_at)"
            " SELECT id, %s, stage_id, stage_entered_at FROM sales_deal WHERE stage_id <> %s",
            [first_stage, first_stage],
        )
        conn.commit()
        print(f"  deal contacts and stage history ({time.perf_counter() - started:.0f} s)")

        def task_row(n: int) -> tuple[object, ...]:
            due = now + timedelta(days=rng.uniform(-60, 30))
            done = rng.random() < 0.6
            return (
                f"{SUBJECTS[languages[n % 5]]} {n}",
                due,
                2,
                owners[n % len(owners)],
                done,
                due if done else None,
                due,
                (n * 13) % n_contacts + 1,
            )

        copy_rows(
            conn,
            "sales_task",
            "title, due_at, priority, owner_id, done, done_at, created_at, contact_id",
            counts["tasks"],
            task_row,
            started,
        )

        def activity_row(n: int) -> tuple[object, ...]:
            when = now - timedelta(seconds=rng.randrange(365 * 86_400))
            return (
                n + 1,
                KINDS[n % len(KINDS)],
                SUBJECTS[languages[n % 5]],
                "",
                "",
                "",
                "",
                when,
                owners[n % len(owners)],
                "{}",
                when,
            )

        copy_rows(
            conn,
            "activities_activity",
            "id, kind, subject, body, channel, direction, outcome, occurred_at, author_id, data,"
            " created_at",
            n_activities,
            activity_row,
            started,
        )
        # The timeline links the services write (sales.services.activities): an entry on a
        # contact also shows on its company; one on a deal on its contact and company too.
        # Activity a: one in four concerns deal (a/4 mod deals) + 1 and that deal's contact;
        # one in ten of the others one of the hot contacts; the rest a contact spread evenly.
        conn.execute(
            "CREATE TEMP TABLE activity_target AS SELECT a.id, a.occurred_at,"
            " CASE WHEN a.id %% 4 = 0 THEN (a.id / 4) %% %(deals)s + 1 END AS deal_id,"
            " CASE WHEN a.id %% 4 = 0 THEN (((a.id / 4) %% %(deals)s) * 7) %% %(contacts)s + 1"
            "  WHEN a.id %% 10 = 1 THEN (a.id / 10) %% %(hot)s + 1"
            "  ELSE (a.id * 2654435761) %% %(contacts)s + 1 END AS contact_id"
            " FROM activities_activity a",
            {"deals": n_deals, "contacts": n_contacts, "hot": hot},
        )
        conn.execute(
            "INSERT INTO activities_activitylink (activity_id, target_type, target_id,"
            " occurred_at) SELECT id, 'sales.contact', contact_id, occurred_at"
            " FROM activity_target"
        )
        conn.execute(
            "INSERT INTO activities_activitylink (activity_id, target_type, target_id,"
            " occurred_at) SELECT id, 'sales.deal', deal_id, occurred_at FROM activity_target"
            " WHERE deal_id IS NOT NULL"
        )
        conn.execute(
            "INSERT INTO activities_activitylink (activity_id, target_type, target_id,"
            " occurred_at) SELECT t.id, 'sales.company', c.company_id, t.occurred_at"
            " FROM activity_target t JOIN sales_contact c ON c.id = t.contact_id"
            " WHERE c.company_id IS NOT NULL"
        )
        conn.execute("DROP TABLE activity_target")
        conn.commit()
        links = conn.execute("SELECT count(*) FROM activities_activitylink").fetchone()
        print(
            f"  {links[0] if links else 0:,} timeline links "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        for table in (
            "sales_company",
            "sales_contact",
            "sales_deal",
            "sales_task",
            "sales_contactemail",
            "sales_contactphone",
            "sales_companymembership",
            "sales_dealstagechange",
            "activities_activity",
            "activities_activitylink",
        ):
            setval = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: E501, S608
            conn.execute(setval)
        conn.commit()
        index_started = time.perf_counter()
        conn.execute("SET max_parallel_maintenance_workers = 2")
        for _name, definition in indexes:
            conn.execute(definition)
            conn.commit()
        print(
            f"  {len(indexes)} indexes built in {time.perf_counter() - index_started:.0f} s "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    # COPY bypasses the timeline's writes, so the per-day rollup is recomputed once.
    from django_tenants.utils import schema_context

    from crm_modules.activities.api import activity_days_rebuild

    with schema_context(schema):
        days = activity_days_rebuild()
    # VACUUM too: index-only scans need the visibility map that a COPY leaves unset, and the
    # GIN indexes' statistics are read by the planner.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        conn.execute("VACUUM ANALYZE")
    print(f"  {days:,} activity-day rows; vacuumed ({time.perf_counter() - started:.0f} s)")


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    counts = counts_for(args.contacts)
    database_url = bench_database(args.database, fresh=True)
    setup_django(database_url)
    tenant, owners = provision_sales(args.reps)
    print(
        "seeding "
        + ", ".join(f"{count:,} {name}" for name, count in counts.items())
        + f" for {len(owners)} owners into {args.database}",
        flush=True,
    )
    seed(database_url, tenant.schema_name, owners, counts)  # type: ignore[attr-defined]
    print(f"seeded in {time.perf_counter() - started:.1f} s (workspace provisioning included)")


if __name__ == "__main__":
    main()
