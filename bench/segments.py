"""Dynamic segment counts and member pages at a million contacts.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/segments.py --contacts 1000000

The script keeps its data in its own database (``bench_segments`` unless --database says
otherwise) and reuses it on the next run; --reseed starts over. Contacts are seeded as
bench/sales.py does, then spread by SQL over what segments filter on: one in twenty in
Milano, one in ten tagged "vip", scores 0-99, every fifth created within the last 30 days, one
in four with email consent given, one in a hundred (all of them in Milano, with consent)
with a won deal of 1,000-10,000 in the workspace currency, closed in the last two years (half
of those with an earlier one too, 400-700 days ago). Then the relations the newer conditions
read (ADR 0052): one in ten contacts with a call 0-199 days ago, one in fifty with a ticket
(half of them open), one in a hundred with a satisfaction rating (a bad one for a fifth of
those), and the customer values (RFM segment, lifetime value) recomputed from the won deals.

A dynamic segment is its filter applied when it is read (ADR 0028), so there is nothing to
recount: the figure that matters is how long reading its size and its first page of members
takes. It prints, per segment, the median and p95 of ``segment_count`` and of the first
member page (``segment_members_page``, 50 rows) as the owner sees them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sales import (  # noqa: E402
    SLUG,
    ensure_database,
    provision,
    seed,
    setup_django,
    with_database,
)
from service import p95  # noqa: E402  (bench/service.py)

SEGMENTS = {
    "customers in Milano": {
        "match": "all",
        "conditions": [
            {"field": "city", "op": "eq", "value": "Milano"},
            {"field": "lifecycle_stage", "op": "eq", "value": "customer"},
        ],
    },
    "vip with score at least 50": {
        "match": "all",
        "conditions": [
            {"field": "tags", "op": "has", "value": "vip"},
            {"field": "score", "op": "gte", "value": 50},
        ],
    },
    "won more than 5,000": {
        "match": "all",
        "conditions": [{"field": "won_amount", "op": "gt", "value": 5000}],
    },
    "Milano, won more than 5,000, email consent": {
        "match": "all",
        "conditions": [
            {"field": "city", "op": "eq", "value": "Milano"},
            {"field": "won_amount", "op": "gt", "value": 5000},
            {"field": "consent.email", "op": "is", "value": "given"},
        ],
    },
    "created in the last 30 days or vip": {
        "match": "any",
        "conditions": [
            {"field": "created", "op": "within_days", "value": 30},
            {"field": "tags", "op": "has", "value": "vip"},
        ],
    },
    "Milano, lifetime value > 5,000, no order in 90 days": {
        "match": "all",
        "conditions": [
            {"field": "city", "op": "eq", "value": "Milano"},
            {"field": "lifetime_value", "op": "gt", "value": 5000},
            {"field": "purchase.last", "op": "not_within_days", "value": 90},
        ],
    },
    "a call in the last 30 days": {
        "match": "all",
        "conditions": [{"field": "activity.call", "op": "within_days", "value": 30}],
    },
    "no activity ever, vip": {
        "match": "all",
        "conditions": [
            {"field": "tags", "op": "has", "value": "vip"},
            {"field": "activity.any", "op": "never", "value": None},
        ],
    },
    "at least 1 call in 90 days": {
        "match": "all",
        "conditions": [
            {"field": "activity_count.call", "op": "gte", "value": {"count": 1, "days": 90}}
        ],
    },
    "open ticket or bad rating in 30 days": {
        "match": "any",
        "conditions": [
            {"field": "ticket.open", "op": "is", "value": True},
            {"field": "csat.bad", "op": "within_days", "value": 30},
        ],
    },
    "last rating 4 or more": {
        "match": "all",
        "conditions": [{"field": "csat.last_score", "op": "gte", "value": 4}],
    },
    "2 purchases or more": {
        "match": "all",
        "conditions": [{"field": "purchase.count", "op": "gte", "value": 2}],
    },
    "RFM champions or loyal": {
        "match": "all",
        "conditions": [{"field": "rfm_segment", "op": "in", "value": ["champions", "loyal"]}],
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_segments")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


def spread(database_url: str, schema: str, owner_id: int) -> None:
    """The segment fields, set once over the seeded contacts (skipped when already done)."""
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        if conn.execute("SELECT 1 FROM sales_contact WHERE city = 'Milano' LIMIT 1").fetchone():
            return
        started = time.perf_counter()
        conn.execute(
            "UPDATE sales_contact SET"
            " city = CASE WHEN id % 20 = 0 THEN 'Milano' ELSE 'Torino' END,"
            " tags = CASE WHEN id % 10 = 3 THEN ARRAY['vip'] ELSE '{}' END,"
            " score = id % 100,"
            " created_at = CASE WHEN id % 5 = 1 THEN now() - interval '3 days'"
            "   ELSE now() - interval '400 days' END"
        )
        conn.execute(
            "INSERT INTO sales_consent (contact_id, channel, status, recorded_at, method,"
            " user_agent) SELECT id, 'email', 'given', now(), 'form', ''"
            " FROM sales_contact WHERE id % 4 = 0"
        )
        pipeline, won = conn.execute(
            "SELECT s.pipeline_id, s.id FROM sales_stage s WHERE s.kind = 'won' LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        # Deals in the workspace's currency: lifetime value counts other currencies only
        # through an exchange rate (ADR 0047), and the seed sets none.
        (currency,) = conn.execute(
            "SELECT currency FROM public.tenants_tenant WHERE schema_name = %s", [schema]
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            "INSERT INTO sales_deal (name, pipeline_id, stage_id, status, amount, currency,"
            " owner_id, tags, custom, created_at, updated_at, closed_at, stage_entered_at,"
            " lost_reason, search_text)"
            " SELECT 'Deal ' || id, %s, %s, 'won', 1000 + (id * 37) %% 9001, %s, %s, '{}',"
            " '{}', now(), now(), closed, closed, '', 'deal ' || id"
            " FROM (SELECT id, now() - ((id * 7) %% 720) * interval '1 day' AS closed"
            "       FROM sales_contact WHERE id %% 100 = 40) buyers",
            [pipeline, won, currency, owner_id],
        )
        # Half the buyers bought before too, more than a year earlier: repeat customers.
        conn.execute(
            "INSERT INTO sales_deal (name, pipeline_id, stage_id, status, amount, currency,"
            " owner_id, tags, custom, created_at, updated_at, closed_at, stage_entered_at,"
            " lost_reason, search_text)"
            " SELECT 'Deal ' || id, %s, %s, 'won', 500 + (id * 13) %% 4001, %s, %s, '{}',"
            " '{}', now(), now(), closed, closed, '', 'deal ' || id"
            " FROM (SELECT id, now() - (400 + (id * 3) %% 300) * interval '1 day' AS closed"
            "       FROM sales_contact WHERE id %% 200 = 40) repeat_buyers",
            [pipeline, won, currency, owner_id],
        )
        conn.execute(
            "INSERT INTO sales_deal_contacts (deal_id, contact_id)"
            " SELECT d.id, substring(d.name from 6)::bigint FROM sales_deal d"
            " WHERE d.name LIKE 'Deal %'"
        )
        conn.commit()
        conn.autocommit = True
        for table in ("sales_contact", "sales_consent", "sales_deal", "sales_deal_contacts"):
            conn.execute(f"VACUUM ANALYZE {table}")
        print(f"segment fields spread in {time.perf_counter() - started:.1f} s", flush=True)


def spread_relations(owner_user_id: int) -> None:
    """Activities, tickets, ratings and customer values over the seeded contacts (skipped when
    already done), written through the models so every column gets its default."""
    import datetime

    from django.db import connection
    from django.utils import timezone

    from crm_modules.activities.models import Activity, ActivityLink
    from crm_modules.reporting.models import CustomerValue
    from crm_modules.reporting.services.customer_values import customer_values_recompute
    from crm_modules.sales.models import Contact
    from crm_modules.service.models import CsatSurvey, Ticket

    if Ticket.objects.exists():
        return
    started = time.perf_counter()
    now = timezone.now()
    ids = Contact.objects.order_by("id").values_list("id", flat=True)
    batch = 5000
    for offset in range(0, ids.count(), batch):
        chunk = list(ids[offset : offset + batch])
        called = [pk for pk in chunk if pk % 10 == 7]
        moments = {pk: now - datetime.timedelta(days=pk % 200) for pk in called}
        activities = Activity.objects.bulk_create(
            Activity(kind="call", subject=f"Call {pk}", occurred_at=moments[pk]) for pk in called
        )
        ActivityLink.objects.bulk_create(
            ActivityLink(
                activity=activity,
                target_type="sales.contact",
                target_id=pk,
                occurred_at=moments[pk],
            )
            for pk, activity in zip(called, activities, strict=True)
        )
        tickets = Ticket.objects.bulk_create(
            Ticket(
                subject=f"Ticket {pk}",
                contact_id=pk,
                status="open" if pk % 100 == 3 else "solved",
                created_by_id=owner_user_id,
            )
            for pk in chunk
            if pk % 50 == 3
        )
        CsatSurvey.objects.bulk_create(
            CsatSurvey(
                ticket=ticket,
                contact_id=ticket.contact_id,
                score=2 if ticket.contact_id % 500 == 3 else 5,
                rated_at=now - datetime.timedelta(days=ticket.contact_id % 60),
                delivery="sent",
            )
            for ticket in tickets
            if ticket.contact_id is not None and ticket.contact_id % 100 == 3
        )
    customer_values_recompute()
    with connection.cursor() as cursor:
        for model in (Activity, ActivityLink, Ticket, CsatSurvey, CustomerValue):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    print(f"relations spread in {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    args = parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    database_url = with_database(server, args.database)
    ensure_database(server, args.database, fresh=args.reseed)
    setup_django(database_url)
    provision()

    from django.db import connection

    from crm_modules.marketing.models import Segment
    from crm_modules.marketing.selectors import segment_count, segment_members_page
    from crm_modules.marketing.services import segment_create
    from crm_modules.sales.models import Stage
    from crm_modules.sales.services.deals import StageInput, pipeline_create
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    owner = tenant.memberships.get()
    seed(database_url, tenant.schema_name, owner.user_id, args.contacts)
    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    if not Stage.objects.filter(kind=Stage.Kind.WON).exists():
        pipeline_create(
            actor=owner,
            name="Bench",
            stages=[StageInput("Proposal", 40), StageInput("Won", 100, kind=Stage.Kind.WON)],
        )
    spread(database_url, tenant.schema_name, owner.user_id)
    spread_relations(owner.user_id)

    print(f"\n{args.contacts:,} contacts; {args.samples} samples per figure\n")
    width = max(44, *(len(name) for name in SEGMENTS))
    header = f"{'segment':{width}} {'members':>9} {'count med':>10} {'p95 ms':>8}"
    print(f"{header} {'page med':>9} {'p95 ms':>8}")
    for name, definition in SEGMENTS.items():
        segment = Segment.objects.filter(name=name).first() or segment_create(
            actor=owner, name=name, kind="dynamic", definition=definition
        )
        counts: list[float] = []
        pages: list[float] = []
        size = 0
        for _ in range(args.samples):
            started = time.perf_counter()
            size = segment_count(actor=owner, segment=segment)
            counts.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            page = segment_members_page(actor=owner, segment=segment)
            list(page.rows)
            pages.append((time.perf_counter() - started) * 1000)
        print(
            f"{name:{width}} {size:>9,} {statistics.median(counts):>10.1f} {p95(counts):>8.1f}"
            f" {statistics.median(pages):>9.1f} {p95(pages):>8.1f}"
        )


if __name__ == "__main__":
    main()
