"""An email campaign at scale: queue N recipients from a segment, then send them through
Django's SMTP backend to a local SMTP sink (aiosmtpd, in its own process) with W sending
workers (processes, as Celery workers would be).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/campaign.py --recipients 1000000 --workers 4

The script keeps its data in its own database (``bench_campaign`` unless --database says
otherwise); contacts are written with COPY and reused by the next run (--reseed starts over).
It prints the queue time, the sending rate (messages/s, from the first claim to the last
acceptance by the sink) and the peak resident memory of the queueing process and of the
largest sending worker; and checks that the sink got every recipient exactly once. Both run
with DEBUG off, as production workers do. --queue-only stops after the queue step.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sys
import time
from datetime import UTC, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    ensure_database,
    peak_rss_mb,
    provision,
    reset_peak,
    rss_mb,
    setup_django,
    with_database,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_campaign")
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s per worker cap")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--queue-only", action="store_true", help="queue the recipients, send nothing"
    )
    return parser.parse_args()


def seed(database_url: str, schema: str, owner_id: int, count: int) -> None:
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        done = conn.execute("SELECT count(*) FROM sales_contact").fetchone()[0]  # type: ignore[index]
        while done < count:
            size = min(50_000, count - done)
            with conn.cursor().copy(
                "COPY sales_contact (first_name, last_name, job_title, lifecycle_stage, owner_id,"
                " tags, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content,"
                " preferred_channel, notes, primary_email, primary_phone, search_text,"
                " street, city, region, postal_code, country, custom, created_at, updated_at,"
                " score, score_breakdown, name_key, time_zone, first_touch, last_touch, language)"
                " FROM STDIN"
            ) as copy:
                for n in range(done, done + size):
                    copy.write_row(
                        (
                            f"Name{n}",
                            "Bench",
                            "",
                            "customer",
                            owner_id,
                            "{}",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            f"c{n}@example.com",
                            "",
                            f"name{n} bench",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "{}",
                            stamp,
                            stamp,
                            0,
                            "{}",
                            "",
                            "",
                            "{}",
                            "{}",
                            "",
                        )
                    )
            conn.commit()
            done += size
            print(f"  {done:,} contacts ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)


# --- the sink -----------------------------------------------------------------------------------


def sink_main(port: int, counter: Any, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


# --- the senders ------------------------------------------------------------------------------


def worker_main(
    database_url: str, schema: str, campaign_id: int, port: int, rate: float, out: Any
) -> None:
    os.environ["MARKETING_SEND_RATE_PER_WORKER"] = str(rate)
    setup_django(database_url)
    from django.conf import settings
    from django_tenants.utils import schema_context

    from crm_modules.marketing.campaigns import sending

    # As a worker runs in production: with DEBUG on, Django would keep every statement's text
    # (a queue batch's INSERT is about half a megabyte), and the memory figures would be its.
    settings.DEBUG = False
    settings.MARKETING_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = False
    settings.MARKETING_SEND_RATE_PER_WORKER = rate
    sent = 0
    with schema_context(schema):
        while True:
            claimed = sending.send_batch(campaign_id, limit=settings.MARKETING_SEND_BATCH)
            if not claimed:
                break
            sent += claimed
    out.put((sent, peak_rss_mb()))  # the worker's whole life: Django, connections, batches


def main() -> None:
    args = parse_args()
    server = os.environ["DATABASE_URL"]
    ensure_database(server, args.database, fresh=args.reseed)
    database_url = with_database(server, args.database)
    setup_django(database_url)
    from django.conf import settings
    from django.db import connections
    from django_tenants.utils import schema_context

    from crm_modules.marketing.campaigns import content, sending, services
    from crm_modules.marketing.models import (
        Campaign,
        CampaignRecipient,
        PressureSettings,
        Segment,
    )
    from tenants.models import Membership, Tenant

    provision()
    tenant = Tenant.objects.get(slug=SLUG)
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant, role="owner")
    seed(database_url, tenant.schema_name, owner.user_id, args.recipients)
    settings.DEBUG = False  # the queue step as a production worker runs it (see worker_main)

    with schema_context(tenant.schema_name):
        # The throughput of sending, whatever the hour: no quiet hours, and a cap above one
        # message a contact (the rule is still asked for every recipient).
        PressureSettings.objects.update_or_create(
            pk=1,
            defaults={
                "quiet_start": dt_time(0),
                "quiet_end": dt_time(0),
                "cap_messages": 10_000,
                "cap_days": 1,
            },
        )
        segment, _ = Segment.objects.get_or_create(
            name="Bench customers",
            kind="dynamic",
            defaults={
                "definition": {
                    "match": "all",
                    "conditions": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}],
                }
            },
        )
        blocks = [
            {"type": "heading", "text": 'Hello {{ first_name | default:"there" }}'},
            {
                "type": "text",
                "text": 'Our offer for {{ company | default:"you" }}.\n\nBest regards',
            },
            {"type": "button", "text": "See the offer", "href": "https://example.com/offer"},
            {
                "type": "image",
                "src": "https://example.com/logo.png",
                "alt": "Logo",
                "href": "https://example.com/",
            },
        ]
        campaign = services.campaign_create(
            actor=owner,
            draft=services.CampaignDraft(
                name=f"Bench {datetime.now(UTC):%H:%M:%S}",
                segment_id=segment.pk,
                variants=[services.VariantDraft(subject="Hi {{ first_name }}", blocks=blocks)],
            ),
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            status="scheduled", send_at=datetime.now(UTC), sent_by=owner.user
        )
        reset_peak()
        before = rss_mb("VmRSS")
        started = time.perf_counter()
        queued = sending.campaign_queue_recipients(campaign.pk)
        queue_seconds = time.perf_counter() - started
        # The rendering cost alone, per message.
        built = content.build(
            subject="Hi {{ first_name }}", preheader="", mode="blocks", blocks=blocks, html=""
        )
        t0 = time.perf_counter()
        for n in range(2000):
            content.render(
                built,
                {"first_name": f"N{n}"},
                link_url=lambda i: f"https://t/{i}",
                open_url="https://t/o",
            )
        render_us = (time.perf_counter() - t0) / 2000 * 1e6
    queue_rss = rss_mb()
    print(
        f"queued {queued:,} recipients in {queue_seconds:.1f} s ({queued / queue_seconds:,.0f}/s)"
    )
    print(f"render: {render_us:.0f} µs per message")
    print(
        f"RSS of the queueing process: {before:.0f} MB before, peak {queue_rss:.0f} MB while"
        " queueing"
    )
    connections.close_all()
    if args.queue_only:
        return

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    counter = context.Value("l", 0)
    ready = context.Event()
    sink = context.Process(target=sink_main, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(30)
    out = context.Queue()
    workers = [
        context.Process(
            target=worker_main,
            args=(database_url, tenant.schema_name, campaign.pk, port, args.rate, out),
        )
        for _ in range(args.workers)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    sink.terminate()
    with schema_context(tenant.schema_name):
        statuses = dict(
            CampaignRecipient.objects.filter(campaign_id=campaign.pk)
            .values_list("status")
            .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
        )
    delivered = counter.value
    print(
        f"sent {delivered:,} messages with {args.workers} workers in {seconds:.1f} s:"
        f" {delivered / seconds:,.0f} messages/s (worker cap {args.rate:.0f}/s each,"
        " including each worker's start-up)"
    )
    print(f"peak RSS of the largest sending worker: {max(r[1] for r in results):.0f} MB")
    print(f"rows by status: {statuses}")
    if delivered != queued or statuses.get("sent") != queued:
        sys.exit(f"expected {queued} messages once each, the sink got {delivered}")
    print("every recipient exactly once: yes")


if __name__ == "__main__":
    main()
