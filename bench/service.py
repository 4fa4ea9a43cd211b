"""The shared inbox, a ticket page and ticket writes at scale, through the real URL stack.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/service.py --tickets 500000 --messages 3000000

The script keeps its data in its own database (``bench_service`` unless --database says
otherwise) so a seeded workspace is reused by the next run; --reseed starts over. Tickets are
written by one INSERT … SELECT each batch: four in five solved or closed, the rest open with an
assignee for half of them, every tenth due within the next two hours, each linked to one of
10,000 contacts; messages are spread over the tickets.

It prints, per operation, the median and p95 server time of N requests made with Django's test
client (middleware, permission check, selector, template), the p95 of the database time, and
the number of queries; then the p95 of a status change and of an assignment through the
services (check, lock, check, SLA clocks, timeline entry, audit row).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    bench_database,
    measure,
    p95,
    provision,
    render_as_served,
    setup_django,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_service")
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--messages", type=int, default=3_000_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per operation")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--rechoice",
        action="store_true",
        help="time the background SLA re-choice over every open ticket instead of the pages",
    )
    return parser.parse_args()


def seed(database_url: str, schema: str, owner_id: int, tickets: int, messages: int) -> None:
    started = time.perf_counter()
    batch = 100_000
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        if not conn.execute("SELECT 1 FROM sales_contact LIMIT 1").fetchone():
            conn.execute(
                "INSERT INTO sales_contact (first_name, last_name, job_title, lifecycle_stage,"
                " owner_id, tags, source, utm_source, utm_medium, utm_campaign, utm_term,"
                " utm_content, preferred_channel, notes, primary_email, primary_phone,"
                " search_text, street, city, region, postal_code, country, custom, created_at,"
                " updated_at, name_key, score, score_breakdown, time_zone, first_touch,"
                " last_touch, language)"
                " SELECT 'Customer', n::text, '', 'customer', %s, '{}', '', '', '', '', '', '',"
                " '', '', '', '', 'customer ' || n, '', '', '', '', '', '{}', now(), now(),"
                " 'customer ' || n, 0, '{}', '', '{}', '{}', ''"
                " FROM generate_series(1, 10000) n",
                [owner_id],
            )
        contacts = conn.execute("SELECT min(id), max(id) FROM sales_contact").fetchone()
        if contacts is None:
            sys.exit("no contacts")
        low, high = contacts
        done = conn.execute("SELECT count(*) FROM service_ticket").fetchone()[0]  # type: ignore[index]
        while done < tickets:
            size = min(batch, tickets - done)
            conn.execute(
                "INSERT INTO service_ticket (subject, description, status, priority, type,"
                " channel, assignee_id, tags, contact_id, created_by_id, created_at,"
                " updated_at, solved_at, first_response_breached, resolution_breached,"
                " paused_seconds, next_due_at, first_response_due_at, resolution_due_at,"
                " first_response_warned, resolution_warned, language, skills, custom,"
                " next_response_breached, next_response_warned, next_response_paused_base,"
                " unverified_sender)"
                " SELECT 'Ticket ' || n, 'Details of ticket ' || n,"
                " (ARRAY['solved','closed','solved','closed','solved','closed','solved',"
                "   'closed','new','open'])[1 + n %% 10],"
                " (ARRAY['low','normal','high','urgent'])[1 + n %% 4], 'question', 'email',"
                " CASE WHEN n %% 20 = 9 THEN %(owner)s END, '{}',"
                " %(low)s + n %% (%(high)s - %(low)s + 1), %(owner)s,"
                " now() - make_interval(secs => (%(total)s - n) * 60),"
                " now() - make_interval(secs => (%(total)s - n) * 60), NULL, false, false, 0,"
                " CASE WHEN n %% 10 >= 8 THEN now() + make_interval(mins => n %% 1440) END,"
                " now() + interval '8 hours', now() + interval '40 hours', false, false, '',"
                " '{}', '{}', false, false, 0, ''"
                " FROM generate_series(%(start)s::int, %(end)s::int) n",
                {
                    "owner": owner_id,
                    "low": low,
                    "high": high,
                    "total": tickets,
                    "start": done + 1,
                    "end": done + size,
                },
            )
            conn.commit()
            done += size
            print(f"  {done:,} tickets ({time.perf_counter() - started:.0f} s)", flush=True)
        ids = conn.execute("SELECT min(id), max(id) FROM service_ticket").fetchone()
        if ids is None:
            sys.exit("no tickets")
        first, last = ids
        done = conn.execute("SELECT count(*) FROM service_ticketmessage").fetchone()[0]  # type: ignore[index]
        while done < messages:
            size = min(batch * 5, messages - done)
            conn.execute(
                "INSERT INTO service_ticketmessage (ticket_id, kind, direction, body, author_id,"
                " created_at)"
                " SELECT %(first)s + n %% (%(last)s - %(first)s + 1),"
                " CASE WHEN n %% 3 = 0 THEN 'note' ELSE 'reply' END,"
                " CASE WHEN n %% 3 = 0 THEN 'internal' ELSE 'outbound' END,"
                " 'Message ' || n, %(owner)s, now() - make_interval(secs => n)"
                " FROM generate_series(%(start)s::int, %(end)s::int) n",
                {
                    "first": first,
                    "last": last,
                    "owner": owner_id,
                    "start": done + 1,
                    "end": done + size,
                },
            )
            conn.commit()
            done += size
            print(f"  {done:,} messages ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE service_ticket")
        conn.execute("VACUUM ANALYZE service_ticketmessage")
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def rechoice(tenant: Any, owner: Any) -> None:
    """Time ``sla_policies_reapply`` over every open ticket, as after an edit of a policy:
    half the contacts are of the gold tier, chosen by a policy with its own business hours
    (every day, 08:00-20:00, another time zone) and targets; before each timed walk every open
    ticket is put back on the default policy with due times the walk must rewrite."""
    from django.db import connection, transaction

    from crm_modules.service import sla
    from crm_modules.service.models import (
        OPEN_STATUSES,
        BusinessHours,
        SlaPolicy,
        SlaTarget,
        Ticket,
    )
    from crm_modules.service.services.sla_policies import sla_policies_reapply
    from tenants.models import Membership

    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    actor = Membership.objects.select_related("tenant", "user").get(tenant=tenant, user=owner)
    with transaction.atomic():
        default = sla.policy_default(time_zone=actor.tenant.time_zone)
    if not SlaPolicy.objects.filter(name="Gold", retired_at__isnull=True).exists():
        # Written directly: the service would also enqueue a walk of its own.
        hours = BusinessHours.objects.create(
            name="Gold",
            time_zone="Asia/Bangkok",
            openings=[[day, 8 * 60, 20 * 60] for day in range(7)],
        )
        gold = SlaPolicy.objects.create(name="Gold", hours=hours, position=1, tiers=["gold"])
        SlaTarget.objects.bulk_create(
            SlaTarget(
                policy=gold,
                priority=p,
                first_response_minutes=30,
                resolution_minutes=4 * 60,
                next_response_minutes=60,
            )
            for p in ("low", "normal", "high", "urgent")
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sales_contact SET custom = CASE WHEN id % 2 = 0"
            " THEN '{\"tier\": \"gold\"}'::jsonb ELSE '{}'::jsonb END"
        )
    open_count = Ticket.objects.filter(status__in=OPEN_STATUSES).count()
    print(f"\nSLA re-choice over {open_count:,} open tickets (batches of 500)\n")
    for run in ("every ticket changes", "nothing left to change"):
        if run == "every ticket changes":
            Ticket.objects.filter(status__in=OPEN_STATUSES).update(
                sla_policy_id=default.pk,
                first_response_due_at=None,
                resolution_due_at=None,
                next_due_at=None,
                sla_alarm_at=None,
            )
        started = time.perf_counter()
        changed = sla_policies_reapply(tenant=actor.tenant)
        seconds = time.perf_counter() - started
        print(
            f"{run:28} {changed:>9,} changed {seconds:8.1f} s"
            f" {open_count / seconds:10,.0f} tickets/s"
        )


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    setup_django(database_url)
    provision()

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from crm_modules.service import services
    from crm_modules.service.models import Ticket
    from tenants.middleware import SESSION_WORKSPACE_KEY
    from tenants.models import Membership, Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    owner = tenant.memberships.get().user
    seed(database_url, tenant.schema_name, owner.pk, args.tickets, args.messages)
    if args.rechoice:
        rechoice(tenant, owner)
        return

    setup_test_environment()
    settings.DEBUG = False
    client = Client(HTTP_HOST=f"{SLUG}.localhost")
    client.force_login(owner, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    session[SESSION_WORKSPACE_KEY] = tenant.pk
    session.save()

    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    open_ticket = (
        Ticket.objects.filter(status="open").order_by("-id").values_list("id", flat=True)[0]
    )
    contact = Ticket.objects.filter(pk=open_ticket).values_list("contact_id", flat=True)[0]
    first_page = client.get("/service/?view=all")
    cursor = first_page.context["page"].next_cursor
    render_as_served()  # the cursors were read from the context; time what a server pays
    operations = {
        "inbox: unassigned": "/service/?view=unassigned",
        "inbox: mine": "/service/?view=mine",
        "inbox: breaching soon": "/service/?view=breaching",
        "inbox: all": "/service/?view=all",
        "inbox: all, next page (keyset)": f"/service/?view=all&after={cursor}",
        "inbox: all, status open": "/service/?view=all&status=open",
        "ticket page": f"/service/{open_ticket}/",
        "contact page with its tickets": f"/sales/contacts/{contact}/",
        "API: tickets, unassigned": "/api/v1/service/tickets/?view=unassigned",
    }
    print(f"\n{args.tickets:,} tickets, {args.messages:,} messages; {args.requests} requests\n")
    print(f"{'operation':40} {'median ms':>10} {'p95 ms':>8} {'SQL p95 ms':>11} {'queries':>8}")
    for label, path in operations.items():
        median, p95_ms, database_p95, queries = measure(client, path, args.requests)
        print(f"{label:40} {median:10.1f} {p95_ms:8.1f} {database_p95:11.1f} {queries:8d}")

    actor = Membership.objects.select_related("tenant", "user").get(tenant=tenant, user=owner)
    targets = list(
        Ticket.objects.filter(status__in=["new", "open"]).order_by("-id")[: args.requests]
    )

    def pending(ticket: Ticket) -> None:
        services.ticket_change_status(actor=actor, ticket=ticket, status="pending")

    def assign(ticket: Ticket) -> None:
        services.ticket_assign(actor=actor, ticket=ticket, assignee_id=owner.pk)

    writes: list[tuple[str, Callable[[Ticket], None]]] = [
        ("status change (open → pending)", pending),
        ("assignment (to the owner)", assign),
    ]
    from django.test.utils import CaptureQueriesContext

    for label, write in writes:
        samples = []
        statements = 0
        for ticket in targets:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                write(ticket)
                samples.append((time.perf_counter() - started) * 1000)
            statements = len(captured)
        print(
            f"{label:40} {statistics.median(samples):10.1f} {p95(samples):8.1f} "
            f"{'':>11} {statements:8d}"
        )


if __name__ == "__main__":
    main()
