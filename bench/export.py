"""An export of every contact of a seeded workspace, as the background export writes it.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/export.py --contacts 1000000 --format csv

Uses the workspace of `bench/import.py` (database ``bench_dataio``, seeded to --contacts). It
runs ``export_write`` — the list's selector with its scope, a server-side cursor, every cell
neutralised — into a temporary file, and prints the time, the rows per second, the file's size
and the process's peak memory before and after (bounded memory: the peak must not grow with
the number of rows).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataio_workspace as ws
from bench.common import bench_database, peak_rss_mb


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_dataio")
    parser.add_argument("--contacts", type=int, default=1_000_000, help="seeded contacts")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    with ws.local_s3() as endpoint:
        ws.setup_django(database_url, endpoint)
        ws.provision()

        from django_tenants.utils import schema_context

        from crm_modules.dataio.services import exports
        from tenants.models import Tenant

        tenant = Tenant.objects.get(slug=ws.SLUG)
        owner = tenant.memberships.select_related("tenant", "user").get()
        ws.seed(database_url, tenant.schema_name, owner.user_id, args.contacts)
        before = peak_rss_mb()
        with tempfile.TemporaryDirectory() as folder, schema_context(tenant.schema_name):
            path = Path(folder) / f"contacts.{args.format}"
            started = time.perf_counter()
            rows = exports.export_write(
                actor=owner, entity="contact", filters={}, file_format=args.format, path=path
            )
            took = time.perf_counter() - started
            size = path.stat().st_size / 1024**2
        print(
            f"\nexported {rows:,} contacts to {args.format.upper()} in {took:.1f} s "
            f"({rows / took:,.0f} rows/s), {size:.0f} MB"
        )
        print(f"peak memory of the process: {before:.0f} MB before, {peak_rss_mb():.0f} MB after")


if __name__ == "__main__":
    main()
