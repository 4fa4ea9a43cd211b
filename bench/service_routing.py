"""The routing decision at scale: rules, the team's agents, their open tickets, the choice.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/service_routing.py --tickets 500000 --agents 50 --rules 30

The script keeps its data in its own database (``bench_service_routing`` unless --database
says otherwise) and reuses it on the next run; --reseed starts over. It makes one team of
``--agents`` available support agents (cap 50 open tickets each),
``--rules`` routing rules of which only the last matches (every rule is tried), and
``--tickets`` tickets, one in five open: about 20 open tickets for each agent (whose cap is
50), the other open ones held by the owner (outside the team).

It prints the median and p95 of: the decision alone (``routing.route_decision``: rules,
team, agents' open counts, choice; no writes), with this process's CPU time and the SQL time
inside it (which tell the work itself from waiting for a CPU on a loaded machine), and a
whole ticket opened and routed through ``services.ticket_create`` (validation, SLA clocks,
the routing with its team lock, timeline entry, audit rows), each in a transaction rolled
back so every sample sees the same data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_database,
    p95,
    provision,
    setup_django,
)

SLUG = "routing"


class Rollback(Exception):
    pass


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_service_routing")
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rules", type=int, default=30)
    parser.add_argument("--requests", type=int, default=50, help="timed decisions")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    setup_django(database_url)
    from django.db import connection, transaction

    from crm_modules.service import services
    from crm_modules.service.models import AgentProfile, RoutingRule, Ticket
    from crm_modules.service.services import routing
    from tenants.models import Membership, Team, Tenant, User
    from tenants.roles import Role

    provision(SLUG, "Routing Inc", "owner@routing.example.com", full_name="Routing Owner")
    tenant = Tenant.objects.get(slug=SLUG)
    owner = Membership.objects.select_related("tenant", "user").get(tenant=tenant, role=Role.OWNER)
    team, _created = Team.objects.get_or_create(tenant=tenant, name="Support")
    for n in range(Membership.objects.filter(team=team).count(), args.agents):
        user = User.objects.create(email=f"agent{n}@routing.example.com", full_name=f"Agent {n}")
        Membership.objects.create(user=user, tenant=tenant, role=Role.SUPPORT_AGENT, team=team)
    agent_ids = list(Membership.objects.filter(team=team).values_list("user_id", flat=True))

    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    for user_id in agent_ids:
        AgentProfile.objects.update_or_create(
            user_id=user_id, defaults={"available": True, "max_open": 50}
        )
    if RoutingRule.objects.count() < args.rules:
        RoutingRule.objects.all().delete()
        for n in range(args.rules - 1):
            routing.routing_rule_save(
                actor=owner,
                name=f"Rule {n}",
                team_id=team.pk,
                channels="phone",
                keywords=f"never-{n}",
                languages="th",
            )
        routing.routing_rule_save(actor=owner, name="Everything", team_id=team.pk)

    started = time.perf_counter()
    done = Ticket.objects.count()
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{tenant.schema_name}", public')
        while done < args.tickets:
            size = min(100_000, args.tickets - done)
            conn.execute(
                "INSERT INTO service_ticket (subject, description, status, priority, type,"
                " channel, assignee_id, team_id, tags, skills, language, created_by_id,"
                " created_at, updated_at, first_response_breached, resolution_breached,"
                " paused_seconds, first_response_warned, resolution_warned, custom,"
                " next_response_breached, next_response_paused_base, next_response_warned,"
                " unverified_sender)"
                " SELECT 'Ticket ' || n, '',"
                " (ARRAY['solved','closed','solved','closed','open'])[1 + n %% 5],"
                " 'normal', 'question', 'email',"
                " CASE WHEN n <= %(count)s * 100 THEN (%(agents)s::bigint[])[1 + n %% %(count)s]"
                " ELSE %(owner)s END, %(team)s, '{}', '{}', '',"
                " %(owner)s, now(), now(), false, false, 0, false, false, '{}',"
                " false, 0, false, ''"
                " FROM generate_series(%(start)s::int, %(end)s::int) n",
                {
                    "agents": agent_ids,
                    "count": len(agent_ids),
                    "team": team.pk,
                    "owner": owner.user_id,
                    "start": done + 1,
                    "end": done + size,
                },
            )
            conn.commit()
            done += size
            print(f"  {done:,} tickets ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE service_ticket")

    sample = Ticket(subject="My printer is broken", description="", channel="email")
    routing.route_decision(sample, tenant=tenant)  # warm
    from django.test.utils import CaptureQueriesContext

    decisions = []
    cpu = []
    database = []
    for _ in range(args.requests):
        with CaptureQueriesContext(connection) as captured:
            began, began_cpu = time.perf_counter(), time.process_time()
            team_id, agent = routing.route_decision(sample, tenant=tenant)
            decisions.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        database.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    queries = len(captured.captured_queries)
    assert team_id == team.pk and agent is not None  # noqa: S101, PT018

    creations = []
    create_queries = 0
    for n in range(args.requests):
        try:
            with CaptureQueriesContext(connection) as captured, transaction.atomic():
                began = time.perf_counter()
                ticket = services.ticket_create(actor=owner, subject=f"Routed {n}")
                assert ticket.assignee_id is not None  # noqa: S101
                creations.append((time.perf_counter() - began) * 1000)
                create_queries = len(captured)
                raise Rollback
        except Rollback:
            pass

    open_count = Ticket.objects.filter(status="open").count()
    print(
        f"\n{done:,} tickets ({open_count:,} open), {len(agent_ids)} agents, "
        f"{RoutingRule.objects.count()} rules; {args.requests} samples\n"
    )
    print(f"{'operation':45} {'median ms':>10} {'p95 ms':>8}")
    for label, samples in (
        ("routing decision (rules, agents, choice)", decisions),
        ("  of which this process's CPU", cpu),
        ("  of which SQL (round trips included)", database),
        ("ticket opened and routed (whole service)", creations),
    ):
        print(f"{label:45} {statistics.median(samples):10.1f} {p95(samples):8.1f}")
    print(f"queries per decision: {queries}; per ticket opened and routed: {create_queries}")


if __name__ == "__main__":
    main()
