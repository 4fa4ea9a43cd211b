"""An import of a contacts, leads, deals or activities file into a seeded workspace, end to
end through the services.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/import.py --contacts 1000000 --rows 100000 --format csv
    uv run python bench/import.py --entity lead --rows 100000     # or deal, activity

The file has --rows contacts in five scripts (English, Russian, Italian, Thai, Chinese) with an
email, a phone, a job title and one of 2,000 companies (name and domain: linked when the
company exists, created otherwise); 5 % of the rows carry the email of a seeded contact
(duplicates, skipped) and 1 % a malformed email (reported). It is uploaded to the local S3,
mapped by its headers, and run exactly as the worker runs it (Celery's eager mode in this
process), duplicate checks on.

--entity lead: leads in five scripts with an email, a phone, a company name and a status;
5 % repeat the email of an earlier row of the file (duplicates, skipped), 1 % a malformed email.
--entity deal: deals in the first pipeline (created when the workspace has none) at one of its
stages, an amount in EUR, a company to link or create and a seeded contact by email; 1 % an
amount that is not a number. --entity activity: calls, meetings and emails on the timeline of a
seeded contact (by email), dated in the last year; 1 % a date that is not one.

It prints the time of each step, the outcome counts, the CPU time of the process (and of it,
the thread that checks the next batch's rows while one is written) and of its
PostgreSQL backend (what the run costs whatever else the machine is doing; the wall time on a
shared machine also holds the wait for a CPU), the number of SQL statements sent through
Django (COPY streams are not counted) and the peak memory of the process during the import
(from the upload on; the file is written beforehand, row by row); --profile
FILE also writes a cProfile of the run (read it with ``python -m pstats FILE``) and prints the
functions that took the most time (those of the thread that checks the next batch's rows
while one is written apart), and the number of SQL statements the run sent.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataio_workspace as ws
from bench.common import FIRST, LAST, bench_database, reset_peak, rss_mb

HEADER = [
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Job Title",
    "Company Name",
    "Company Domain",
]
HEADERS = {
    "contact": HEADER,
    "lead": ["First Name", "Last Name", "Email", "Phone", "Company", "Status"],
    "deal": ["Deal Name", "Stage", "Amount", "Currency", "Company", "Company Domain", "Contact"],
    "activity": ["Type", "Subject", "Date", "Details", "Contact Email"],
}
# Each column's field, by position (the bench does not depend on header recognition).
MAPPINGS = {
    "lead": ["first_name", "last_name", "email", "phone", "company", "status"],
    "deal": [
        "name",
        "stage",
        "amount",
        "currency",
        "company",
        "company_domain",
        "contact_email",
    ],
    "activity": ["kind", "subject", "occurred_at", "body", "contact_email"],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dataio")
    parser.add_argument("--contacts", type=int, default=1_000_000, help="seeded contacts")
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument(
        "--entity", choices=["contact", "lead", "deal", "activity"], default="contact"
    )
    parser.add_argument("--duplicates", choices=["skip", "update", "create"], default="skip")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the run here")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


def rows(count: int, seeded: int, run: int) -> Iterator[list[str]]:
    rng = random.Random(run)
    for n in range(count):
        lang = rng.choice(list(FIRST))
        first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
        roll = rng.random()
        if roll < 0.01:
            email = f"broken-{n}-at-example.com"
        elif roll < 0.06 and seeded:
            email = ws.seeded_email(rng.randrange(seeded))
        else:
            email = f"r{run}n{n}@import.example.com"
        company = rng.randrange(2000)
        yield [
            first,
            last,
            email,
            f"+39 02 {run % 100:02d}{n:06d}",
            rng.choice(["CEO", "Buyer", "Директор", "ผู้จัดการ", "经理"]),
            f"Company {company}",
            f"company{company}.example.com",
        ]


def lead_rows(count: int, run: int) -> Iterator[list[str]]:
    rng = random.Random(run)
    for n in range(count):
        lang = rng.choice(list(FIRST))
        first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
        roll = rng.random()
        if roll < 0.01:
            email = f"broken-{n}-at-example.com"
        elif roll < 0.06 and n > 100:
            email = f"r{run}n{rng.randrange(n // 2)}@leads.example.com"
        else:
            email = f"r{run}n{n}@leads.example.com"
        yield [
            first,
            last,
            email,
            f"+39 06 {run % 100:02d}{n:06d}",
            f"Company {rng.randrange(2000)}",
            rng.choice(["New", "Working", "Disqualified"]),
        ]


def deal_rows(count: int, seeded: int, run: int, stages: list[str]) -> Iterator[list[str]]:
    rng = random.Random(run)
    for n in range(count):
        company = rng.randrange(2000)
        amount = "not a number" if rng.random() < 0.01 else f"{rng.randrange(100, 100000)}.00"
        contact = ws.seeded_email(rng.randrange(seeded)) if seeded else ""
        yield [
            f"Deal {run}-{n} {rng.choice(['Renewal', 'Продление', 'Rinnovo', '续约'])}",
            rng.choice(stages),
            amount,
            "EUR",
            f"Company {company}",
            f"company{company}.example.com",
            contact,
        ]


def activity_rows(count: int, seeded: int, run: int) -> Iterator[list[str]]:
    rng = random.Random(run)
    for n in range(count):
        day = f"2026-{rng.randrange(1, 12):02d}-{rng.randrange(1, 28):02d} 10:30"
        when = "sometime soon" if rng.random() < 0.01 else day
        yield [
            rng.choice(["Call", "Meeting", "Email"]),
            rng.choice(["Intro", "Звонок", "Riunione", "ประชุม", "会议"]) + f" {n}",
            when,
            "Talked about the renewal.",
            ws.seeded_email(rng.randrange(seeded)) if seeded else "nobody@example.com",
        ]


def write_file(
    path: Path, data: Iterable[list[str]], file_format: str, header: list[str] = HEADER
) -> None:
    if file_format == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(data)
        return
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for row in data:
        sheet.append(row)
    workbook.save(str(path))


def server_cpu_seconds() -> float:
    """CPU time (user + system) of this connection's PostgreSQL backend so far, read from
    /proc: the database runs on the same machine in these benchmarks."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stage_names(owner: object) -> list[str]:
    """The stages of the workspace's first pipeline (one is created when there is none)."""
    from crm_modules.sales.models import Pipeline, Stage
    from crm_modules.sales.services.deals import StageInput, pipeline_create

    pipeline = Pipeline.objects.order_by("position", "id").first()
    if pipeline is None:
        pipeline = pipeline_create(
            actor=owner,  # type: ignore[arg-type]
            name="Sales",
            stages=[
                StageInput("Qualified", 10),
                StageInput("Proposal", 40),
                StageInput("Deal", 80),
            ],
        )
    return list(
        Stage.objects.filter(pipeline=pipeline, kind=Stage.Kind.OPEN)
        .order_by("position")
        .values_list("name", flat=True)
    )


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    with ws.local_s3() as endpoint:
        ws.setup_django(database_url, endpoint)
        from django.conf import settings

        # As a worker runs in production: with DEBUG on, Django keeps the text of its last
        # 9,000 statements (a batch's duplicate lookups name 1,000 emails each), which the
        # peak memory below would count.
        settings.DEBUG = False
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
        table = {
            "contact": "sales_contact",
            "lead": "sales_lead",
            "deal": "sales_deal",
            "activity": "activities_activity",
        }[args.entity]
        with schema_context(tenant.schema_name):
            run = ImportJob.objects.count() + 1
            if args.entity == "contact":
                data = rows(args.rows, args.contacts, run)
            elif args.entity == "lead":
                data = lead_rows(args.rows, run)
            elif args.entity == "deal":
                data = deal_rows(args.rows, args.contacts, run, stage_names(owner))
            else:
                data = activity_rows(args.rows, args.contacts, run)

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{args.entity}s.{args.format}"
            started = time.perf_counter()
            write_file(path, data, args.format, HEADERS[args.entity])
            del data
            # The peak from here on is the import's, not the file's rows built above.
            reset_peak()
            size_mb = path.stat().st_size / 1024**2
            print(
                f"file: {args.rows:,} {args.entity} rows, {size_mb:.1f} MB ({args.format}), "
                f"written in {time.perf_counter() - started:.1f} s",
                flush=True,
            )

            profiler = cProfile.Profile() if args.profile else None
            statements = 0
            # CPU of the thread that checks the next batch's rows while one is written.
            ahead_cpu = 0.0
            check_ahead = imports._check
            # cProfile sees one thread: the checks get their own profile.
            ahead_profiler = cProfile.Profile() if args.profile else None

            def timed_check(*check_args):  # type: ignore[no-untyped-def]
                nonlocal ahead_cpu
                started = time.thread_time()
                if ahead_profiler:
                    ahead_profiler.enable()
                try:
                    return check_ahead(*check_args)
                finally:
                    if ahead_profiler:
                        ahead_profiler.disable()
                    ahead_cpu += time.thread_time() - started

            imports._check = timed_check

            def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
                nonlocal statements
                statements += 1
                return execute(sql, params, many, context)

            with schema_context(tenant.schema_name), connection.execute_wrapper(count):
                backend = server_cpu_seconds()
                cpu = time.process_time()
                clock = time.perf_counter()
                with path.open("rb") as handle:
                    job = imports.import_upload(
                        actor=owner,
                        entity=args.entity,
                        upload=UploadedFile(handle, name=path.name),
                    )
                uploaded = time.perf_counter() - clock
                mapping = job.mapping
                if args.entity in MAPPINGS:
                    mapping = {str(i): target for i, target in enumerate(MAPPINGS[args.entity])}
                job = imports.import_configure(
                    actor=owner,
                    job=job,
                    mapping=mapping,
                    duplicates=args.duplicates,
                    date_format="iso",
                )
                run_clock = time.perf_counter()
                if profiler:
                    profiler.enable()
                # Outside a transaction the task runs on commit at once (eager, in process).
                imports.import_start(actor=owner, job=job)
                if profiler:
                    profiler.disable()
                ran = time.perf_counter() - run_clock
                total = time.perf_counter() - clock
                cpu = time.process_time() - cpu
                backend = server_cpu_seconds() - backend
                job.refresh_from_db()
                cursor = connection.cursor()
                cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
                after = cursor.fetchone()[0]

        print(f"\nworkspace: {args.contacts:,} seeded contacts; mapping {job.mapping}")
        print(f"upload (checks, head, S3):   {uploaded:8.1f} s")
        print(f"run (count, batches, finish): {ran:7.1f} s")
        print(f"end to end:                  {total:8.1f} s  ({args.rows / total:,.0f} rows/s)")
        print(
            f"CPU time: this process {cpu:.1f} s, its PostgreSQL backend {backend:.1f} s "
            f"(together {cpu + backend:.1f} s; the rest of the wall time is waiting)"
        )
        print(
            f"  of the process's: rows checked ahead in a thread {ahead_cpu:.1f} s, the rest "
            f"{cpu - ahead_cpu:.1f} s (takes turns with the backend: "
            f"{cpu - ahead_cpu + backend:.1f} s together)"
        )
        print(
            f"status {job.status}: created {job.created_count:,}, updated {job.updated_count:,}, "
            f"skipped {job.skipped_count:,}, errors {job.error_count:,}; {table} now {after:,}"
        )
        if job.failure:
            print(f"failure: {job.failure}")
        print(f"peak memory of the process during the import: {rss_mb():.0f} MB")
        print(f"SQL statements (upload to finish): {statements:,}")
        if profiler and args.profile:
            import pstats

            profiler.dump_stats(args.profile)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            if ahead_profiler and ahead_profiler.getstats():
                ahead_profiler.dump_stats(f"{args.profile}.checks")
                print(f"rows checked ahead (the checking thread; {args.profile}.checks):")
                pstats.Stats(ahead_profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
