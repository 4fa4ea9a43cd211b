"""Contact list and search at scale, through the real URL stack.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/sales_lists.py --contacts 1000000

DATABASE_URL names the PostgreSQL server. The script keeps its data in its own database
(``bench_sales`` unless --database says otherwise) so a seeded workspace is reused by the next
run; --reseed starts over. Contacts are written with COPY in batches, names in English,
Russian, Italian, Thai and Chinese, each with an email, a phone, an owner and a lifecycle stage.

It prints, per operation, the median and p95 server time of N requests made with Django's test
client (middleware, permission check, selector, template), the p95 of the time the database
took for all of a request's queries, and the number of queries each ran.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "bench"
FIRST = {
    "en": ["James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David", "Emma"],
    "ru": ["Иван", "Анна", "Дмитрий", "Ольга", "Сергей", "Мария", "Алексей", "Елена"],
    "it": ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Davide"],
    "th": ["สมชาย", "สมหญิง", "ประเสริฐ", "วิไล", "อนันต์", "มาลี", "สุชาติ", "นภา"],
    # Given names of one or two characters from a pool of common ones, as Chinese names are.
    "zh": [a + b for a in "伟芳娜敏静磊洋艳勇军杰娟涛明超秀霞平刚桂" for b in ("", *"华英兰丽")],
}
LAST = {
    "en": ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Clark"],
    "ru": ["Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Козлов", "Новикова"],
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "th": ["ใจดี", "ศรีสุข", "วงศ์ใหญ่", "แสงทอง", "บุญมา", "ทองดี", "สุขสวัสดิ์", "พรหมมา"],
    "zh": list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"),
}
STAGES = ["subscriber", "lead", "qualified", "opportunity", "customer", "evangelist"]
SEARCHES = {
    "Latin": "rossi",
    "Cyrillic": "смирнова",
    "Thai": "ใจดี",
    "Chinese": "王芳",
    "Chinese, one character": "芳",
    "Chinese, absent": "鑫",
    "email": "mary.smith",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_sales")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per operation")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def ensure_database(server_url: str, name: str, *, fresh: bool) -> bool:
    """True when the database was (re)created."""
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not fresh:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm_platform.settings.dev"
    import django

    django.setup()


def provision() -> None:
    from django.core.management import call_command

    from tenants import services
    from tenants.models import Tenant

    call_command("migrate_schemas", "--shared", verbosity=0)
    if not Tenant.objects.filter(slug=SLUG).exists():
        services.workspace_signup(
            company_name="Bench Inc",
            slug=SLUG,
            full_name="Bench Owner",
            email="owner@bench.example.com",
            password="a-long-enough-passphrase",  # noqa: S106
        )


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


def measure(client: object, path: str, n: int) -> tuple[float, float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # type: ignore[attr-defined]
    samples = []
    database = []
    queries = 0
    for _ in range(n):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)  # type: ignore[attr-defined]
            samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
        queries = len(captured)
        database.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    samples.sort()
    database.sort()
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    database_p95 = database[max(0, round(0.95 * len(database)) - 1)]
    return statistics.median(samples), p95, database_p95, queries


def main() -> None:
    args = parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    database_url = with_database(server, args.database)
    ensure_database(server, args.database, fresh=args.reseed)
    setup_django(database_url)
    provision()

    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment

    from tenants.middleware import SESSION_WORKSPACE_KEY
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    owner = tenant.memberships.get().user
    seed(database_url, tenant.schema_name, owner.pk, args.contacts)

    setup_test_environment()
    settings.DEBUG = False
    client = Client(HTTP_HOST=f"{SLUG}.localhost")
    client.force_login(owner, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    session[SESSION_WORKSPACE_KEY] = tenant.pk
    session.save()

    first_page = client.get("/sales/contacts/")
    cursor = first_page.context["page"].next_cursor
    operations = {
        "contact list, first page": "/sales/contacts/",
        "contact list, next page (keyset)": f"/sales/contacts/?after={cursor}",
        "contact list, mine + stage": "/sales/contacts/?mine=1&stage=customer",
        **{
            f"search ({script})": f"/sales/contacts/?q={quote(term)}"
            for script, term in SEARCHES.items()
        },
    }
    print(f"\n{args.contacts:,} contacts; {args.requests} requests per operation\n")
    print(f"{'operation':40} {'median ms':>10} {'p95 ms':>8} {'SQL p95 ms':>11} {'queries':>8}")
    for label, path in operations.items():
        median, p95, database_p95, queries = measure(client, path, args.requests)
        print(f"{label:40} {median:10.1f} {p95:8.1f} {database_p95:11.1f} {queries:8d}")


if __name__ == "__main__":
    main()
