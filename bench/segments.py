"""Dynamic segment counts and member pages at a million contacts.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/segments.py --contacts 1000000 [--samples 10] [--reseed]

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

Then what the other conditions read (ADR 0069): contact custom fields of every type and a
company one, 50,000 companies (one in ten with a parent) for two contacts in three, job titles,
countries, sources and UTM values, one contact in seven without an owner, 1,000 products with
one or two line items on every won deal, an open deal for one contact in fifty, SMS consent
withdrawn for one in twenty and a meeting for one in forty. A workspace seeded by an earlier
version gets these (and the migrations added since) on the next run.

A dynamic segment is its filter applied when it is read (ADR 0028), so there is nothing to
recount: the figure that matters is how long reading its size and its first page of members
takes. It prints, per segment — one for every kind of condition the builder offers — the
median and p95 of ``segment_count`` and of the first member page (``segment_members_page``, 50
rows) as the owner sees them, the segments whose count p95 is over 1 s, the time to count every
segment once (a full recount), and the time from a contact changed through its service to a
count of a segment it joined that includes it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    bench_database,
    p95,
    provision,
    setup_django,
)
from bench.sales import seed  # noqa: E402  (the contacts of bench/sales.py)

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

# One row for every kind of condition the builder offers (``segments.FIELDS``, the activity
# conditions of each timeline entry type, contact and company custom fields by type) that the
# rows above do not time yet. ``PRODUCTS`` and ``OWNER`` are filled in once the seed is known.
PRODUCTS: list[int] = []
OWNER: list[int] = []


def _one(field: str, op: str, value: object) -> dict[str, object]:
    return {"match": "all", "conditions": [{"field": field, "op": op, "value": value}]}


def more_segments() -> dict[str, dict[str, object]]:
    return {
        "first name is Giulia": _one("first_name", "eq", "Giulia"),
        "last name contains 'ова'": _one("last_name", "contains", "ова"),
        "job title is Buyer": _one("job_title", "eq", "Buyer"),
        "email contains '.sarah@'": _one("email", "contains", ".sarah@"),
        "country is not IT": _one("country", "ne", "IT"),
        "source is empty": _one("source", "empty", None),
        "UTM source is newsletter": _one("utm_source", "eq", "newsletter"),
        "UTM campaign contains 'spring'": _one("utm_campaign", "contains", "spring"),
        "company name contains 'Azienda 42'": _one("company.name", "contains", "Azienda 42"),
        "company industry is Retail": _one("company.industry", "eq", "Retail"),
        "company size is one of 51-200, 201-1000": _one(
            "company.size", "in", ["51-200", "201-1000"]
        ),
        "company country is TH": _one("company.country", "eq", "TH"),
        "company region is Lombardia": _one("company.region", "eq", "Lombardia"),
        "company city is Bangkok": _one("company.city", "eq", "Bangkok"),
        "parent company is Azienda 00015": _one("company.parent", "eq", "Azienda 00015"),
        "lifecycle stage is one of lead, qualified": _one(
            "lifecycle_stage", "in", ["lead", "qualified"]
        ),
        "owner is the owner": _one("owner", "eq", OWNER[0] if OWNER else 1),
        "owner is empty": _one("owner", "empty", None),
        "tags lack vip": _one("tags", "lacks", "vip"),
        "created more than 300 days ago": _one("created", "older_than_days", 300),
        "has an open deal": _one("has_open_deal", "is", True),
        "bought one of 3 products": _one(
            "purchase.product", "bought", {"products": PRODUCTS[:3] or [1], "count": 1}
        ),
        "did not buy product 1 in 365 days": _one(
            "purchase.product", "not_bought", {"products": PRODUCTS[:1] or [1], "days": 365}
        ),
        "opened a ticket in the last 30 days": _one("ticket.opened", "within_days", 30),
        "SMS consent withdrawn": _one("consent.sms", "is", "withdrawn"),
        "phone consent none": _one("consent.phone", "is", "none"),
        "a meeting ever": _one("activity.meeting", "ever", None),
        "a ticket entry in 90 days": _one("activity.ticket", "within_days", 90),
        "at least 1 activity of any type in 365 days": _one(
            "activity_count.any", "gte", {"count": 1, "days": 365}
        ),
        "custom select tier is gold": _one("custom.tier", "eq", "gold"),
        "custom select tier is one of silver, gold": _one("custom.tier", "in", ["silver", "gold"]),
        "custom multi select interests has bi": _one("custom.interests", "has", "bi"),
        "custom number seats at least 90": _one("custom.seats", "gte", "90"),
        "custom date renewal after 2027-06-01": _one("custom.renewal", "gt", "2027-06-01"),
        "custom text nickname contains 'ino'": _one("custom.nickname", "contains", "ino"),
        "custom yes/no newsletter is yes": _one("custom.newsletter", "is", True),
        "custom select tier is empty": _one("custom.tier", "empty", None),
        "company custom select plan is enterprise": _one("company.custom.plan", "eq", "enterprise"),
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


def spread_more(database_url: str, schema: str, owner_user_id: int) -> None:
    """What the other conditions read (skipped when already done): contact and company custom
    fields (defined through the service, values by SQL), 50,000 companies (one in ten with a
    parent) for two contacts in three, text fields, one contact in seven without an owner, a
    catalogue of 1,000 products with one or two line items on every won deal, an open deal for
    one contact in fifty, SMS consent withdrawn for one in twenty and a meeting for one in
    forty."""
    from django.db import transaction

    from crm_modules.sales.models import CustomField

    if CustomField.objects.filter(code="tier").exists():
        return
    started = time.perf_counter()
    with transaction.atomic():  # all of it or nothing: a failed run is run again whole
        _spread_more(owner_user_id)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        for table in (
            "sales_company",
            "sales_contact",
            "sales_deal",
            "sales_deal_contacts",
            "sales_lineitem",
            "sales_consent",
            "sales_product",
            "activities_activity",
            "activities_activitylink",
        ):
            conn.execute(f"VACUUM ANALYZE {table}")
    print(f"other condition fields spread in {time.perf_counter() - started:.1f} s", flush=True)


def sql(cursor: Any, statement: str, params: Any = None) -> Any:
    cursor.execute(statement, params)
    return cursor


def _spread_more(owner_user_id: int) -> None:
    import datetime

    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from crm_modules.activities.models import Activity, ActivityLink
    from crm_modules.sales.models import Company, Contact, Product
    from crm_modules.sales.services.custom_fields import custom_field_create
    from tenants.models import Membership

    owner = Membership.objects.get(user_id=owner_user_id)
    for entity, code, kind, options in (
        ("contact", "tier", "select", ["bronze", "silver", "gold"]),
        ("contact", "interests", "multi_select", ["crm", "erp", "bi", "hr"]),
        ("contact", "seats", "number", None),
        ("contact", "renewal", "date", None),
        ("contact", "nickname", "text", None),
        ("contact", "newsletter", "boolean", None),
        ("company", "plan", "select", ["free", "pro", "enterprise"]),
    ):
        custom_field_create(
            actor=owner, entity=entity, code=code, label=code.title(), type=kind, options=options
        )
    industries = ["Software", "Retail", "Food", "Logistics", "Energy"]
    sizes = [value for value in Company.Size.values if value]
    places = [("IT", "Lombardia", "Milano"), ("TH", "Bangkok", "Bangkok"), ("RU", "", "Moskva")]
    plans = ["free", "pro", "enterprise"]
    for first in range(0, 50_000, 5000):
        Company.objects.bulk_create(
            Company(
                name=f"Azienda {n:05d}",
                search_text=f"azienda {n:05d}",
                industry=industries[n % 5],
                size=sizes[n % len(sizes)],
                country=places[n % 3][0],
                region=places[n % 3][1],
                city=places[n % 3][2],
                custom={"plan": plans[n % 3]},
                owner_id=owner_user_id,
            )
            for n in range(first, first + 5000)
        )
    catalogue = Product.objects.bulk_create(
        Product(name=f"Prodotto {n:04d}", sku=f"P-{n:04d}", unit_price=10 + n, currency="EUR")
        for n in range(1000)
    )
    first_product = min(p.pk for p in catalogue)
    with connection.cursor() as conn:
        (first_company,) = sql(conn, "SELECT min(id) FROM sales_company").fetchone()
        sql(
            conn,
            "UPDATE sales_company c SET parent_id = %s + (c.id - %s) %% 100"
            " WHERE (c.id - %s) %% 10 = 5",
            [first_company, first_company, first_company],
        )
        sql(
            conn,
            "UPDATE sales_contact SET"
            " company_id = CASE WHEN id %% 3 <> 0 THEN %(first)s + id %% 50000 END,"
            " owner_id = CASE WHEN id %% 7 = 0 THEN NULL ELSE owner_id END,"
            " job_title = (ARRAY['Buyer', 'CEO', 'Engineer', ''])[1 + id %% 4],"
            " country = (ARRAY['IT', 'TH', 'RU', 'CN', ''])[1 + id %% 5],"
            " source = CASE WHEN id %% 2 = 0 THEN 'web' ELSE '' END,"
            " utm_source = CASE WHEN id %% 8 = 1 THEN 'newsletter' ELSE '' END,"
            " utm_campaign = CASE WHEN id %% 16 = 1 THEN 'spring-sale' ELSE '' END,"
            " custom = jsonb_strip_nulls(jsonb_build_object("
            "   'tier', (ARRAY['bronze', 'silver', 'gold', NULL])[1 + id %% 4],"
            "   'interests', CASE WHEN id %% 5 = 0 THEN NULL"
            "     ELSE to_jsonb((ARRAY[ARRAY['crm', 'bi'], ARRAY['erp', 'hr'], ARRAY['bi', 'hr'],"
            "       ARRAY['crm', 'erp']])[1 + id %% 4:1 + id %% 4]) -> 0 END,"
            "   'seats', CASE WHEN id %% 3 = 0 THEN NULL ELSE id %% 100 END,"
            "   'renewal', to_char(date '2027-01-01' + (id %% 365)::int, 'YYYY-MM-DD'),"
            "   'nickname', CASE WHEN id %% 6 = 0 THEN 'Pino ' || id ELSE 'Tom ' || id END,"
            "   'newsletter', id %% 2 = 0))",
            {"first": first_company},
        )
        (pipeline, proposal) = sql(
            conn, "SELECT pipeline_id, id FROM sales_stage WHERE kind = 'open' ORDER BY id LIMIT 1"
        ).fetchone()
        currency = connection.tenant.currency  # type: ignore[attr-defined]
        sql(
            conn,
            "INSERT INTO sales_deal (name, pipeline_id, stage_id, status, amount, currency,"
            " owner_id, tags, custom, created_at, updated_at, stage_entered_at,"
            " lost_reason, search_text)"
            " SELECT 'Open ' || id, %s, %s, 'open', 2000, %s, %s, '{}', '{}', now(), now(),"
            " now(), '', 'open ' || id FROM sales_contact WHERE id %% 50 = 11",
            [pipeline, proposal, currency, owner_user_id],
        )
        sql(
            conn,
            "INSERT INTO sales_deal_contacts (deal_id, contact_id)"
            " SELECT d.id, substring(d.name from 6)::bigint FROM sales_deal d"
            " WHERE d.name LIKE 'Open %'",
        )
        sql(
            conn,
            "INSERT INTO sales_lineitem (deal_id, product_id, name, quantity, unit_price,"
            " discount, total, position)"
            " SELECT d.id, %s + n.k, 'Prodotto', 1, d.amount, 0, d.amount, n.k"
            " FROM sales_deal d, LATERAL (SELECT (d.id * 7 + g) %% 1000 AS k"
            "   FROM generate_series(0, (d.id %% 2)::int) g) n WHERE d.status = 'won'",
            [first_product],
        )
        sql(
            conn,
            "INSERT INTO sales_consent (contact_id, channel, status, recorded_at, method,"
            " user_agent) SELECT id, 'sms', 'withdrawn', now(), 'form', ''"
            " FROM sales_contact WHERE id % 20 = 5",
        )
    now = timezone.now()
    met = list(Contact.objects.annotate(m=F("id") % 40).filter(m=9).values_list("id", flat=True))
    for offset in range(0, len(met), 5000):
        chunk = met[offset : offset + 5000]
        moments = {pk: now - datetime.timedelta(days=pk % 300) for pk in chunk}
        meetings = Activity.objects.bulk_create(
            Activity(kind="meeting", subject=f"Meeting {pk}", occurred_at=moments[pk])
            for pk in chunk
        )
        ActivityLink.objects.bulk_create(
            ActivityLink(
                activity=activity,
                target_type="sales.contact",
                target_id=pk,
                occurred_at=moments[pk],
            )
            for pk, activity in zip(chunk, meetings, strict=True)
        )


def time_segment(
    owner: object, segment: object, samples: int
) -> tuple[int, list[float], list[float]]:
    from crm_modules.marketing.selectors import segment_count, segment_members_page

    counts: list[float] = []
    pages: list[float] = []
    size = 0
    for _ in range(samples):
        started = time.perf_counter()
        size = segment_count(actor=owner, segment=segment)  # type: ignore[arg-type]
        counts.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        page = segment_members_page(actor=owner, segment=segment)  # type: ignore[arg-type]
        list(page.rows)
        pages.append((time.perf_counter() - started) * 1000)
    return size, counts, pages


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    setup_django(database_url)
    provision()

    from django.db import connection

    from crm_modules.marketing.models import Segment
    from crm_modules.marketing.selectors import segment_count
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
    # A workspace made by an earlier run gets the migrations added since (the product indexes).
    from django.core.management import call_command

    call_command("migrate_schemas", "--schema", tenant.schema_name, verbosity=0)
    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    spread_more(database_url, tenant.schema_name, owner.user_id)

    from crm_modules.sales.models import Contact, Product

    PRODUCTS[:] = list(Product.objects.order_by("id").values_list("id", flat=True)[:3])
    OWNER[:] = [owner.user_id]
    every = {**SEGMENTS, **more_segments()}
    print(f"\n{args.contacts:,} contacts; {args.samples} samples per figure\n")
    width = max(44, *(len(name) for name in every))
    header = f"{'segment':{width}} {'members':>9} {'count med':>10} {'p95 ms':>8}"
    print(f"{header} {'page med':>9} {'p95 ms':>8}")
    segments = {}
    slow = []
    for name, definition in every.items():
        segment = Segment.objects.filter(name=name).first() or segment_create(
            actor=owner, name=name, kind="dynamic", definition=definition
        )
        segments[name] = segment
        size, counts, pages = time_segment(owner, segment, args.samples)
        if p95(counts) > 1000:
            slow.append(name)
        print(
            f"{name:{width}} {size:>9,} {statistics.median(counts):>10.1f} {p95(counts):>8.1f}"
            f" {statistics.median(pages):>9.1f} {p95(pages):>8.1f}",
            flush=True,
        )
    print(f"\ncount p95 over 1 s: {', '.join(slow) or 'none'}")

    # A full recount: every segment above counted once, one after the other.
    started = time.perf_counter()
    for segment in segments.values():
        segment_count(actor=owner, segment=segment)
    print(f"full recount of {len(segments)} segments: {time.perf_counter() - started:.1f} s")

    # A record change reflected in membership: a contact changed through the service is
    # counted by the next read of a segment it now belongs to.
    from crm_modules.sales.services.contacts import contact_update

    segment = segments["customers in Milano"]
    before = segment_count(actor=owner, segment=segment)
    contact = Contact.objects.exclude(city="Milano").order_by("id").first()
    if contact is None:
        raise SystemExit("no contact outside Milano to move")
    old = {"city": contact.city, "lifecycle_stage": contact.lifecycle_stage}
    started = time.perf_counter()
    contact_update(
        actor=owner, contact=contact, changes={"city": "Milano", "lifecycle_stage": "customer"}
    )
    after = segment_count(actor=owner, segment=segment)
    elapsed = time.perf_counter() - started
    print(
        f"record change to counted member: {elapsed * 1000:.0f} ms"
        f" (members {before:,} -> {after:,})"
    )
    contact.refresh_from_db()
    contact_update(actor=owner, contact=contact, changes=old)


if __name__ == "__main__":
    main()
