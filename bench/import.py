"""An import of a contacts file into a seeded workspace, end to end through the services.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/import.py --contacts 1000000 --rows 100000 --format csv

The file has --rows contacts in five scripts (English, Russian, Italian, Thai, Chinese) with an
email, a phone, a job title and one of 2,000 companies (name and domain: linked when the
company exists, created otherwise); 5 % of the rows carry the email of a seeded contact
(duplicates, skipped) and 1 % a malformed email (reported). It is uploaded to the local S3,
mapped by its headers, and run exactly as the worker runs it (Celery's eager mode in this
process), duplicate checks on.

It prints the time of each step, the outcome counts and the process's peak memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataio_workspace as ws

HEADER = [
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Job Title",
    "Company Name",
    "Company Domain",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dataio")
    parser.add_argument("--contacts", type=int, default=1_000_000, help="seeded contacts")
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


def rows(count: int, seeded: int, run: int) -> list[list[str]]:
    rng = random.Random(run)
    out = []
    for n in range(count):
        lang = rng.choice(list(ws.FIRST))
        first, last = rng.choice(ws.FIRST[lang]), rng.choice(ws.LAST[lang])
        roll = rng.random()
        if roll < 0.01:
            email = f"broken-{n}-at-example.com"
        elif roll < 0.06 and seeded:
            email = ws.seeded_email(rng.randrange(seeded))
        else:
            email = f"r{run}n{n}@import.example.com"
        company = rng.randrange(2000)
        out.append(
            [
                first,
                last,
                email,
                f"+39 02 {run % 100:02d}{n:06d}",
                rng.choice(["CEO", "Buyer", "Директор", "ผู้จัดการ", "经理"]),
                f"Company {company}",
                f"company{company}.example.com",
            ]
        )
    return out


def write_file(path: Path, data: list[list[str]], file_format: str) -> None:
    if file_format == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(data)
        return
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in data:
        sheet.append(row)
    workbook.save(str(path))


def main() -> None:
    args = parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    database_url = ws.with_database(server, args.database)
    ws.ensure_database(server, args.database, fresh=args.reseed)
    with ws.local_s3() as endpoint:
        ws.setup_django(database_url, endpoint)
        ws.provision()

        from django.core.files.uploadedfile import UploadedFile
        from django.db import connection
        from django_tenants.utils import schema_context

        from crm_modules.dataio.models import ImportJob
        from crm_modules.dataio.services import imports
        from tenants.models import Tenant

        tenant = Tenant.objects.get(slug=ws.SLUG)
        owner = tenant.memberships.select_related("tenant", "user").get()
        ws.seed(database_url, tenant.schema_name, owner.user_id, args.contacts)
        with schema_context(tenant.schema_name):
            run = ImportJob.objects.count() + 1
        data = rows(args.rows, args.contacts, run)

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"contacts.{args.format}"
            started = time.perf_counter()
            write_file(path, data, args.format)
            del data
            size_mb = path.stat().st_size / 1024**2
            print(
                f"file: {args.rows:,} rows, {size_mb:.1f} MB ({args.format}), "
                f"written in {time.perf_counter() - started:.1f} s",
                flush=True,
            )

            with schema_context(tenant.schema_name):
                clock = time.perf_counter()
                with path.open("rb") as handle:
                    job = imports.import_upload(
                        actor=owner, entity="contact", upload=UploadedFile(handle, name=path.name)
                    )
                uploaded = time.perf_counter() - clock
                job = imports.import_configure(
                    actor=owner,
                    job=job,
                    mapping=job.mapping,
                    duplicates="skip",
                    date_format="iso",
                )
                run_clock = time.perf_counter()
                # Outside a transaction the task runs on commit at once (eager, in process).
                imports.import_start(actor=owner, job=job)
                ran = time.perf_counter() - run_clock
                total = time.perf_counter() - clock
                job.refresh_from_db()
                contacts = connection.cursor()
                contacts.execute("SELECT count(*) FROM sales_contact")
                after = contacts.fetchone()[0]

        print(f"\nworkspace: {args.contacts:,} seeded contacts; mapping {job.mapping}")
        print(f"upload (checks, head, S3):   {uploaded:8.1f} s")
        print(f"run (count, batches, finish): {ran:7.1f} s")
        print(f"end to end:                  {total:8.1f} s  ({args.rows / total:,.0f} rows/s)")
        print(
            f"status {job.status}: created {job.created_count:,}, skipped {job.skipped_count:,}, "
            f"errors {job.error_count:,}; contacts now {after:,}"
        )
        print(f"peak memory of the process: {ws.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
