"""The workspace `bench/import.py` and `bench/export.py` work in: a database of its own
(``bench_dataio`` unless --database says otherwise, kept between runs), a workspace seeded with
contacts by COPY — each with its email and phone rows, so that duplicate checks have something
to find — and a local S3 (moto's server) for the files."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import common
from bench.common import FIRST, LAST, free_port

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-dataio"
STAGES = ["subscriber", "lead", "qualified", "opportunity", "customer", "evangelist"]


def seeded_email(n: int) -> str:
    return f"c{n}@seed.example.com"


@contextlib.contextmanager
def local_s3() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, in memory, for the run."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def setup_django(database_url: str, s3_endpoint: str) -> None:
    common.setup_django(
        database_url,
        AWS_STORAGE_BUCKET_NAME="rapport-bench",
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106
    )
    from crm_platform import s3
    from crm_platform.celery import app

    s3.bucket_ensure()
    # The bench runs the worker's code in this process, as Celery's eager mode does.
    app.conf.task_always_eager = True


def provision() -> None:
    common.provision(SLUG, "Bench Data Inc", "owner@bench-dataio.example.com")


SEEDED_TABLES = ("sales_contact", "sales_contactemail", "sales_contactphone")


def _restore_indexes(conn: psycopg.Connection[Any]) -> None:
    """Build again the indexes a seed set aside (also after a seed that was stopped)."""
    conn.execute("CREATE TABLE IF NOT EXISTS public.bench_set_aside (definition text)")
    conn.commit()
    for (definition,) in conn.execute("SELECT definition FROM public.bench_set_aside").fetchall():
        started = time.perf_counter()
        conn.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
        print(f"  index rebuilt in {time.perf_counter() - started:.0f} s: {definition[:90]}")
    conn.execute("DELETE FROM public.bench_set_aside")
    conn.commit()


def _set_indexes_aside(conn: psycopg.Connection[Any], schema: str) -> None:
    """Drop the secondary indexes of the seeded tables (kept in ``bench_set_aside``): a
    million rows load several times faster, and each index is built once at the end."""
    found = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname"
        " JOIN pg_index x ON x.indexrelid = c.oid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname"
        " WHERE i.schemaname = %s AND i.tablename = ANY(%s)"
        " AND NOT x.indisprimary AND NOT x.indisunique",
        [schema, list(SEEDED_TABLES)],
    ).fetchall()
    for name, definition in found:
        conn.execute("INSERT INTO public.bench_set_aside VALUES (%s)", [definition])
        conn.execute(f'DROP INDEX "{schema}"."{name}"')
    conn.commit()


def seed(database_url: str, schema: str, owner_id: int, count: int) -> None:
    """Contacts with one email and one phone each, by COPY. A large seed sets the secondary
    indexes aside while it loads and builds them at the end (the bench then runs with every
    index in place, as a workspace has them)."""
    # The search text and duplicate key the contact services write.
    from crm_modules.sales.services.checks import searchable, unspaced_name
    from crm_modules.sales.services.duplicates import contact_name_key

    rng = random.Random(7)
    batch = 50_000
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        _restore_indexes(conn)
        conn.execute(f'SET search_path TO "{schema}", public')
        done = conn.execute("SELECT count(*) FROM sales_contact").fetchone()[0]  # type: ignore[index]
        if done >= count:
            return
        if count - done > 100_000:
            _set_indexes_aside(conn, schema)
        while done < count:
            size = min(batch, count - done)
            first_id = conn.execute(
                "SELECT nextval(pg_get_serial_sequence('sales_contact', 'id'))"
            ).fetchone()[0]  # type: ignore[index]
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('sales_contact', 'id'), %s)",
                [first_id + size],
            )
            contacts, emails, phones = [], [], []
            for offset in range(size):
                n = done + offset
                pk = first_id + offset
                lang = rng.choice(list(FIRST))
                first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
                email = seeded_email(n)
                phone = f"+3906{n:08d}"
                text = searchable(first, last, unspaced_name(first, last), email, phone, phone[1:])
                key = contact_name_key(first, last)
                contacts.append(
                    (pk, first, last, rng.choice(STAGES), owner_id, email, phone, text, key)
                )
                emails.append((pk, email))
                phones.append((pk, phone))
            with conn.cursor().copy(
                "COPY sales_contact (id, first_name, last_name, lifecycle_stage, owner_id,"
                " primary_email, primary_phone, search_text, name_key, job_title, tags, source,"
                " utm_source, utm_medium, utm_campaign, utm_term, utm_content, preferred_channel,"
                " notes,"
                " street, city, region, postal_code, country, custom, created_at, updated_at,"
                " time_zone, first_touch, last_touch, language, score, score_breakdown)"
                " FROM STDIN"
            ) as copy:
                for row in contacts:
                    blanks = (*[""] * 13, "{}", stamp, stamp, "", "{}", "{}", "", 0, "{}")
                    copy.write_row((*row, "", "{}", *blanks))
            with conn.cursor().copy(
                "COPY sales_contactemail (contact_id, email, is_primary) FROM STDIN"
            ) as copy:
                for pk, email in emails:
                    copy.write_row((pk, email, True))
            with conn.cursor().copy(
                "COPY sales_contactphone (contact_id, number, label, is_primary) FROM STDIN"
            ) as copy:
                for pk, number in phones:
                    copy.write_row((pk, number, "", True))
            conn.commit()
            done += size
            print(f"  {done:,} contacts ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.execute("SET maintenance_work_mem TO '512MB'")
        _restore_indexes(conn)
        conn.execute(f'SET search_path TO "{schema}", public')
        conn.execute("ANALYZE sales_contact")
        conn.execute("ANALYZE sales_contactemail")
        conn.execute("ANALYZE sales_contactphone")
        conn.commit()
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
