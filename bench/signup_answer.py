"""Signup answer time for an address with an account and for one without (ADR 0015).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/signup_answer.py

DATABASE_URL names the PostgreSQL server; the benchmark creates its own throwaway database on it
(``rapport_bench_signup`` unless --database says otherwise) and drops it at the end. REDIS_URL
should be a scratch Redis database: each signup publishes its mail task there (no worker runs,
as in production the request does not wait for the mail) and the queue is purged at the end.

What it does: migrate the public schema, create 200 accounts, then POST the signup form through
Django's request handling (middleware, form, service, template) with the production password
hasher, alternating an address that has an account and one that has none, each request from its
own client address so that the per-IP signup limit does not answer instead. Prints median, p95
and mean for each kind and the difference of the medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import (  # noqa: E402
    drop_database,
    nearest_rank,
    recreate_database,
    with_database,
)

PASSWORD = "a-long-enough-passphrase"  # noqa: S105


def setup_django(database_url: str) -> None:
    # Development settings with real PostgreSQL and Redis: the production password hasher, and
    # Celery publishing to the broker rather than running the task in the request.
    common.setup_django(database_url, SPARE_WORKSPACE_POOL_SIZE="0")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="rapport_bench_signup", help="throwaway database")
    parser.add_argument("--signups", type=int, default=100, help="timed signups of each kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed signups of each kind")
    return parser.parse_args()


def line(label: str, samples_ms: list[float]) -> str:
    return (
        f"{label:<22} n={len(samples_ms)}  median {statistics.median(samples_ms):6.1f} ms  "
        f"p95 {nearest_rank(samples_ms, 95):6.1f} ms  mean {statistics.fmean(samples_ms):6.1f} ms"
    )


def main() -> int:
    args = parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (any database on the server to use) and REDIS_URL.")
    database_url = with_database(server_url, args.database)
    recreate_database(server_url, args.database)
    try:
        setup_django(database_url)
        from django.conf import settings
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import override_settings

        import crm_platform
        from tenants.models import User

        call_command("migrate_schemas", shared=True, verbosity=0, interactive=False)
        production_hasher = settings.PASSWORD_HASHERS[0]
        with override_settings(DEBUG=False, PASSWORD_HASHERS=[production_hasher]):
            hashed = make_password(PASSWORD)
            User.objects.bulk_create(
                User(email=f"owner{n}@bench.example.com", full_name=f"Owner {n}", password=hashed)
                for n in range(200)
            )
            timings: dict[str, list[float]] = {"existing": [], "new": []}
            total = args.warmup + args.signups
            for n in range(total):
                for kind in ("existing", "new"):
                    email = (
                        f"owner{n % 200}@bench.example.com"
                        if kind == "existing"
                        else f"person{n}@new.example.com"
                    )
                    client = Client(
                        HTTP_HOST=settings.BASE_DOMAIN,
                        REMOTE_ADDR=f"10.{n // 250}.{n % 250}.{1 if kind == 'new' else 2}",
                    )
                    payload = {
                        "company_name": "Bench Ltd",
                        "slug": f"bench-{n}",
                        "full_name": "Bench Person",
                        "email": email,
                        "password": PASSWORD,
                    }
                    began = time.perf_counter()
                    response = client.post("/signup/", payload)
                    elapsed = (time.perf_counter() - began) * 1000
                    if response.status_code != 200:
                        sys.exit(f"signup answered {response.status_code}")
                    if n >= args.warmup:
                        timings[kind].append(elapsed)
        connection.close()
        crm_platform.celery_app.control.purge()
    finally:
        drop_database(server_url, args.database)

    print(
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(f"Hasher: {production_hasher.rsplit('.', 1)[-1]}; load {os.getloadavg()[0]:.2f}")
    print(f"Signup answers, {args.signups} of each kind, interleaved:")
    print(line("address with account", timings["existing"]))
    print(line("address without", timings["new"]))
    difference = statistics.median(timings["existing"]) - statistics.median(timings["new"])
    print(f"difference of medians (with − without): {difference:+.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
