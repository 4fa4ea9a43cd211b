"""Duplicate check on create, workspace duplicate scan, and full lead rescoring at scale.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/dedupe_scoring.py --contacts 1000000

DATABASE_URL names the PostgreSQL server; the data stays in its own database (``bench_dedupe``
unless --database says otherwise) so the next run reuses it; --reseed starts over. Contacts are
written with COPY — names in English, Russian, Italian, Thai and Chinese, one email and one
phone each (in the contact, email and phone tables), name keys as the services write them,
5% of them duplicates of another contact (same email, same phone, or the same name in
another script) — and a timeline entry for one contact in ten.

It prints the median and p95 of the on-create duplicate check (email + phone + name, as the
create form and the API ask it), the time of a full duplicate scan, and the time to compute
every contact's score again after a rule change (four rules: a field, engagement in 14 days,
withdrawn consent, 90 days of inactivity).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    FIRST,
    LAST,
    bench_database,
    p95,
    provision,
    setup_django,
)

SLUG = "benchdedupe"
# Family names with a number make 64 times 10,000 distinct people, so similar-name groups stay
# small, as they are in a real workspace.
STAGES = ["subscriber", "lead", "qualified", "opportunity", "customer"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dedupe")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed duplicate checks")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--skip-rescoring", action="store_true")
    return parser.parse_args()


def workspace_schema() -> str:
    """The workspace, signed up unless it exists; returns its schema."""
    from tenants.models import Tenant

    provision(SLUG, "Bench Dedupe", "owner@benchdedupe.example.com")
    return str(Tenant.objects.get(slug=SLUG).schema_name)


def _person(rng: random.Random, n: int) -> tuple[str, str]:
    lang = rng.choice(list(FIRST))
    return rng.choice(FIRST[lang]), f"{rng.choice(LAST[lang])}{n % 10_000}"


def seed(database_url: str, schema: str, count: int) -> None:
    from crm_modules.sales.services.duplicates import contact_name_key

    rng = random.Random(11)
    batch = 50_000
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        done = conn.execute("SELECT count(*) FROM sales_contact").fetchone()[0]  # type: ignore[index]
        while done < count:
            size = min(batch, count - done)
            first_id = conn.execute(
                "SELECT coalesce(max(id), 0) + 1 FROM sales_contact"
            ).fetchone()[0]  # type: ignore[index]
            rows, emails, phones, links = [], [], [], []
            for offset in range(size):
                n = done + offset
                pk = first_id + offset
                first, last = _person(rng, n)
                email, phone = f"c{n}@example.com", f"+3906{n:08d}"
                duplicate = rng.random()
                if n > 100 and duplicate < 0.05:
                    twin = rng.randrange(n)
                    kind = rng.choice(("email", "phone", "name"))
                    if kind == "email":
                        email = f"c{twin}@example.com"
                    elif kind == "phone":
                        phone = f"+3906{twin:08d}"
                key = contact_name_key(first, last)
                text = f"{first} {last} {email} {phone}".lower()
                rows.append((first, last, rng.choice(STAGES), email, phone, text, key, stamp))
                emails.append((pk, email))
                phones.append((pk, phone))
                if n % 10 == 0:
                    links.append(pk)
            with conn.cursor().copy(
                "COPY sales_contact (id, first_name, last_name, lifecycle_stage, primary_email,"
                " primary_phone, search_text, name_key, created_at, updated_at, job_title, tags,"
                " source, utm_source, utm_medium, utm_campaign, utm_term, utm_content,"
                " preferred_channel, notes, street, city, region, postal_code, country, custom,"
                " score, score_breakdown, time_zone, first_touch, last_touch, language) FROM STDIN"
            ) as copy:
                for offset, (first, last, stage, email, phone, text, key, at) in enumerate(rows):
                    copy.write_row(
                        (
                            first_id + offset,
                            first,
                            last,
                            stage,
                            email,
                            phone,
                            text,
                            key,
                            at,
                            at,
                            "",
                            "{}",
                            *[""] * 13,
                            "{}",
                            0,
                            "{}",
                            "",
                            "{}",
                            "{}",
                            "",
                        )
                    )
            with conn.cursor().copy(
                "COPY sales_contactemail (contact_id, email, is_primary) FROM STDIN"
            ) as copy:
                for pk, email in emails:
                    copy.write_row((pk, email, True))
            with conn.cursor().copy(
                "COPY sales_contactphone (contact_id, number, label, is_primary) FROM STDIN"
            ) as copy:
                for pk, phone in phones:
                    copy.write_row((pk, phone, "", True))
            with conn.cursor() as cursor:
                for pk in links:
                    when = stamp - timedelta(days=rng.randrange(60))
                    activity = cursor.execute(
                        "INSERT INTO activities_activity (kind, subject, body, channel, direction,"
                        " outcome, occurred_at, data, created_at) VALUES ('meeting', '', '', '',"
                        " '', '', %s, '{}', %s) RETURNING id",
                        [when, when],
                    ).fetchone()[0]  # type: ignore[index]
                    cursor.execute(
                        "INSERT INTO activities_activitylink (activity_id, target_type, target_id,"
                        " occurred_at) VALUES (%s, 'sales.contact', %s, %s)",
                        [activity, pk, when],
                    )
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('sales_contact', 'id'), "
                "(SELECT max(id) FROM sales_contact))"
            )
            conn.commit()
            done += size
            print(f"  {done:,} contacts ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.execute("ANALYZE")
        conn.commit()
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    setup_django(database_url)
    schema = workspace_schema()
    seed(database_url, schema, args.contacts)

    from django.db import connection
    from django.db.models import Max

    from crm_modules.sales.models import Contact
    from crm_modules.sales.services.duplicates import contact_duplicates, duplicates_scan
    from crm_modules.scoring.models import ScoringRule
    from crm_modules.scoring.services import scores_recompute
    from crm_platform.indexes import trigram_available

    connection.set_schema(schema)  # type: ignore[attr-defined]
    total = Contact.objects.count()
    top = Contact.objects.aggregate(top=Max("id"))["top"]
    print(f"workspace: {total:,} contacts; pg_trgm: {trigram_available()}")

    rng = random.Random(5)
    samples = []
    found = 0
    for n in range(args.requests):
        known = rng.randrange(total)
        first, last = _person(random.Random(n), known)
        started = time.perf_counter()
        matches = contact_duplicates(
            first_name=first,
            last_name=last,
            emails=[f"c{known}@example.com"],
            phones=[f"+3906{known:08d}"],
        )
        samples.append((time.perf_counter() - started) * 1000)
        found += bool(matches)
    print(
        f"on-create duplicate check ({args.requests} checks, {found} found a match): "
        f"median {statistics.median(samples):.1f} ms, p95 {p95(samples):.1f} ms"
    )

    if not args.skip_scan:
        started = time.perf_counter()
        groups = duplicates_scan(entity="contact")
        print(f"duplicate scan: {groups:,} groups in {time.perf_counter() - started:.1f} s")

    if args.skip_rescoring:
        return
    ScoringRule.objects.all().delete()
    rules: tuple[dict[str, Any], ...] = (
        {"kind": "field", "field": "lifecycle_stage", "operator": "eq", "value": "qualified"},
        {"kind": "engagement", "activity_kind": "meeting", "days": 14},
        {"kind": "consent", "channel": "email"},
        {"kind": "inactivity", "days": 90},
    )
    for data in rules:
        ScoringRule.objects.create(entity="contact", name=data["kind"], points=10, **data)
    started = time.perf_counter()
    scored = scores_recompute(entity="contact")
    elapsed = time.perf_counter() - started
    print(f"full rescoring: {scored:,} contacts changed in {elapsed:.1f} s (top id {top})")
    started = time.perf_counter()
    scored = scores_recompute(entity="contact")
    elapsed = time.perf_counter() - started
    print(f"full rescoring again, nothing changed: {scored:,} rows written in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
