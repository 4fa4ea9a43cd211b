"""Next best offer at scale: recompute every contact's offers from won deals' line items, then
read them as the contact page and a campaign batch do.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    uv run python bench/next_best_offer.py --contacts 1000000

The script keeps its data in its own database (``bench_offers`` unless --database says
otherwise) and reuses it on the next run (--reseed starts over). Contacts are written with COPY
(bench/sales.py); a share of them (--buyers, default 40%) has one won deal with 1 to 4
line items from a catalogue of --products products, drawn from one of 50 "tastes" so that
products are bought together. It prints the seeding time, the recompute time and rows, and the
median and 95th percentile of reading one contact's offers and a batch of 500 recipients' first
offers.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    ensure_database,
    provision,
    setup_django,
    with_database,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_offers")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--buyers", type=float, default=0.4, help="share of contacts who bought")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


FILLER = {"jsonb": "'{}'", "ARRAY": "'{}'", "boolean": "false"}


def seed(database_url: str, schema: str, owner_id: int, count: int) -> None:
    """Contacts in one INSERT … SELECT; every other NOT NULL column gets its type's empty
    value (read from the catalog, so the loader follows the table as it changes)."""
    started = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        done = conn.execute("SELECT count(*) FROM sales_contact").fetchone()[0]  # type: ignore[index]
        if done >= count:
            return
        given = {
            "first_name": "'Name' || n",
            "last_name": "'Bench'",
            "lifecycle_stage": "'customer'",
            "owner_id": str(int(owner_id)),
            "primary_email": "'c' || n || '@example.com'",
            "search_text": "'name' || n || ' bench'",
        }
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'sales_contact' AND is_nullable = 'NO'"
            " AND column_default IS NULL AND is_generated = 'NEVER'"
            " AND is_identity = 'NO'",
            [schema],
        ).fetchall()
        for column, data_type in rows:
            if column in given:
                continue
            if data_type.startswith("timestamp"):
                given[column] = "now()"
            elif data_type in ("integer", "bigint", "smallint", "numeric", "double precision"):
                given[column] = "0"
            else:
                given[column] = FILLER.get(data_type, "''")
        columns = ", ".join(given)
        values = ", ".join(given.values())
        conn.execute(
            f"INSERT INTO sales_contact ({columns})"  # noqa: S608 - names from the catalog
            f" SELECT {values} FROM generate_series(%s, %s - 1) n",
            [done, count],
        )
        conn.commit()
    print(f"seeded {count - done:,} contacts in {time.perf_counter() - started:.1f} s", flush=True)


def seed_purchases(database_url: str, schema: str, owner_id: int, args: argparse.Namespace) -> None:
    """Products, one pipeline, one won deal per buying contact and its line items, set-based."""
    started = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        if conn.execute("SELECT count(*) FROM sales_lineitem").fetchone()[0]:  # type: ignore[index]
            print("purchases already seeded", flush=True)
            return
        conn.execute(
            "INSERT INTO sales_product (name, sku, unit_price, currency, active, created_at,"
            " updated_at) SELECT 'Product ' || n, 'SKU-' || n, 10 + n %% 90, 'EUR', true, now(),"
            " now() FROM generate_series(0, %s - 1) n",
            [args.products],
        )
        pipeline = conn.execute(
            "INSERT INTO sales_pipeline (name, position, created_at) VALUES ('Bench', 0, now())"
            " RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        stage = conn.execute(
            "INSERT INTO sales_stage (pipeline_id, name, position, probability, kind)"
            " VALUES (%s, 'Won', 0, 100, 'won') RETURNING id",
            [pipeline],
        ).fetchone()[0]  # type: ignore[index]
        buyers = int(100 * args.buyers)
        conn.execute(
            "INSERT INTO sales_deal (name, pipeline_id, stage_id, status, amount, currency,"
            " owner_id, lost_reason, tags, stage_entered_at, closed_at, custom, search_text,"
            " created_at, updated_at)"
            " SELECT 'Order ' || c.id, %s, %s, 'won', 100, 'EUR', %s, '', '{}', now(), now(),"
            " '{}', 'order ' || c.id, now(), now()"
            " FROM sales_contact c WHERE c.id %% 100 < %s ORDER BY c.id",
            [pipeline, stage, owner_id, buyers],
        )
        conn.execute(
            "INSERT INTO sales_deal_contacts (deal_id, contact_id)"
            " SELECT d.id, substring(d.name from 7)::bigint FROM sales_deal d"
            " WHERE d.pipeline_id = %s",
            [pipeline],
        )
        # Each buyer has a taste (its id mod 50) of 10 products, and buys 1 to 4 of them. Which
        # ones and how many come from the id's hundreds: buyers are the ids whose last two
        # digits are below the buying share, so every buyer of a taste has the same id mod
        # 100, and a choice made from that alone would give them all the same basket (and no
        # contact a product their look-alikes bought but they lack: no offers at all).
        first = conn.execute("SELECT min(id) FROM sales_product").fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO sales_lineitem (deal_id, product_id, name, quantity, unit_price,"
            " discount, total, position)"
            " SELECT DISTINCT ON (dc.deal_id, p.id) dc.deal_id, p.id, p.name, 1, p.unit_price,"
            " 0, p.unit_price, k"
            " FROM sales_deal_contacts dc"
            " CROSS JOIN LATERAL generate_series(1, 1 + (dc.contact_id / 100 * 7) %% 4) k"
            " JOIN sales_product p ON p.id = %s + ((dc.contact_id %% 50) * 10"
            "     + (dc.contact_id / 100 * 13 + k * 17) %% 10) %% %s",
            [first, args.products],
        )
        conn.commit()
        items = conn.execute("SELECT count(*) FROM sales_lineitem").fetchone()[0]  # type: ignore[index]
        deals = conn.execute("SELECT count(*) FROM sales_deal").fetchone()[0]  # type: ignore[index]
    print(
        f"seeded {deals:,} won deals, {items:,} line items in"
        f" {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def main() -> None:
    args = parse_args()
    server = os.environ["DATABASE_URL"]
    ensure_database(server, args.database, fresh=args.reseed)
    database_url = with_database(server, args.database)
    setup_django(database_url)
    from django_tenants.utils import schema_context

    from crm_modules.marketing.offers import first_offers, offers_for, offers_recompute
    from crm_modules.sales.models import Contact
    from tenants.models import Membership, Tenant

    provision()
    tenant = Tenant.objects.get(slug=SLUG)
    owner = Membership.objects.get(tenant=tenant, role="owner")
    seed(database_url, tenant.schema_name, owner.user_id, args.contacts)
    seed_purchases(database_url, tenant.schema_name, owner.user_id, args)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    with schema_context(tenant.schema_name):
        started = time.perf_counter()
        rows = offers_recompute()
        took = time.perf_counter() - started
        contacts = Contact.objects.count()
        print(f"recompute: {rows:,} offers for {contacts:,} contacts in {took:.1f} s", flush=True)
        rng = random.Random(7)
        ids = list(
            Contact.objects.order_by("pk").values_list("pk", flat=True)[:: max(1, contacts // 5000)]
        )
        one: list[float] = []
        for pk in rng.sample(ids, min(1000, len(ids))):
            started = time.perf_counter()
            offers_for(pk)
            one.append(time.perf_counter() - started)
        print(f"one contact's offers (panel): {percentiles(one)}", flush=True)
        batch: list[float] = []
        for _ in range(100):
            chosen = rng.sample(ids, min(500, len(ids)))
            started = time.perf_counter()
            first_offers(chosen)
            batch.append(time.perf_counter() - started)
        print(f"500 recipients' first offers (campaign batch): {percentiles(batch)}", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)


if __name__ == "__main__":
    main()
