"""Inbound email to ticket at scale, and 50 messages arriving at once.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/service_inbound.py --tickets 500000 --messages 3000000

Seeds its own database (``bench_service_inbound`` unless --database says otherwise) with
bench/service.py's tickets and messages plus one received email per ticket (so threading looks
up ids among that many), then prints:

- the median and p95 of one inbound email → ticket, excluding SMTP: storing the raw message
  (``inbound_receive``) and ticketing it (``inbound_process``: MIME, contact match, thread
  lookup, ticket or reply, SLA clocks, timeline, audit, the acknowledgement queued), half new
  tickets from new senders and half replies threaded by In-Reply-To;
- 50 messages sent at once over SMTP (50 client threads) to the aiosmtpd server of
  ``manage.py inbound_smtp``: the time until every one is ticketed. Celery runs eagerly here,
  so each message is processed in the server's worker threads, in parallel, as separate
  Celery workers would.
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SLUG,
    bench_database,
    p95,
    provision,
    setup_django,
)
from bench.service import seed  # noqa: E402  (the tickets of bench/service.py)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_service_inbound")
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--messages", type=int, default=3_000_000)
    parser.add_argument("--emails", type=int, default=200, help="timed inbound emails")
    parser.add_argument("--burst", type=int, default=50, help="messages sent at once")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--skip-burst", action="store_true", help="only the per-message figures")
    parser.add_argument(
        "--show-queries", action="store_true", help="print the SQL of one new ticket and one reply"
    )
    return parser.parse_args()


def seed_inbound(database_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(database_url) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        if conn.execute("SELECT 1 FROM service_inboundmessage LIMIT 1").fetchone():
            return
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO service_inboundmessage (message_id, source, status, reason,"
            ' received_at, processed_at, raw, size, recipient, sender, subject, "references",'
            " automatic, body_html, attachments, ticket_id, reopened, authentication)"
            " SELECT '<seed-' || id || '@customer.example>', 'smtp', 'ticketed', '',"
            " created_at, created_at, '', 1000, '', 'customer@example.com', subject, '',"
            " false, '', '[]', id, false, '{}' FROM service_ticket"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE service_inboundmessage")
        print(f"  inbound emails seeded in {time.perf_counter() - started:.0f} s", flush=True)


def email(*, sender: str, subject: str, message_id: str, in_reply_to: str = "") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"support@{SLUG}.in.localhost"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content("Здравствуйте, заказ №42 не пришёл. 您好，我的订单没有到。")
    return message.as_bytes()


def main() -> None:
    args = parse_args()
    database_url = bench_database(args.database, fresh=args.reseed)
    setup_django(database_url)
    provision()

    from django.conf import settings
    from django.core import mail
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment
    from django_tenants.utils import schema_context

    from crm_modules.service.mail.smtp import controller
    from crm_modules.service.models import InboundMessage, Ticket
    from crm_modules.service.services.inbound import inbound_process, inbound_receive
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    owner = tenant.memberships.get().user
    seed(database_url, tenant.schema_name, owner.pk, args.tickets, args.messages)
    seed_inbound(database_url, tenant.schema_name)

    setup_test_environment()  # outgoing acknowledgements go to the locmem outbox
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.INBOUND_EMAIL_DOMAIN = "in.localhost"
    from crm_platform.celery import app

    app.conf.task_always_eager = True
    run = f"{int(time.time())}"

    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    threaded = list(
        InboundMessage.objects.filter(message_id__startswith="<seed-")
        .order_by("-id")
        .values_list("message_id", flat=True)[: args.emails]
    )
    from django.test.utils import CaptureQueriesContext

    samples: list[float] = []
    queries: dict[str, list[int]] = {"new ticket": [], "reply": []}
    shown: set[str] = set()
    for number in range(args.emails):
        if number % 2:
            raw = email(
                sender=f"new-{run}-{number}@customer.example",
                subject=f"New problem {number}",
                message_id=f"<bench-{run}-{number}@customer.example>",
            )
        else:
            raw = email(
                sender="customer@example.com",
                subject="Re: Ticket",
                message_id=f"<bench-{run}-{number}@customer.example>",
                in_reply_to=threaded[number],
            )
        kind = "new ticket" if number % 2 else "reply"
        # The log keeps 9,000 queries; once full, a capture would count none.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            with transaction.atomic():
                inbound, _ = inbound_receive(raw=raw, source="smtp")
            # Processing is called directly (not through the after-commit task) to time it
            # alone; the acknowledgement's delivery (after commit) is left out.
            inbound_process(inbound_id=inbound.pk)
            samples.append((time.perf_counter() - started) * 1000)
        statements = [
            q["sql"]
            for q in captured.captured_queries
            if not q["sql"].startswith("SET search_path")
        ]
        queries[kind].append(len(statements))
        if args.show_queries and kind not in shown:
            shown.add(kind)
            print(f"--- {kind}: {len(statements)} statements")
            for sql in statements:
                print("   ", sql[:300])
    print(
        f"inbound email → ticket ({args.emails}, half replies): "
        f"median {statistics.median(samples):.1f} ms, p95 {p95(samples):.1f} ms"
    )
    for kind, counts in queries.items():
        print(
            f"  statements per {kind} (SET search_path left out): median "
            f"{statistics.median(counts):.0f}, fewest {min(counts)}, most {max(counts)}"
        )
    if args.skip_burst:
        return

    # 50 at once over real SMTP.
    port = 2600 + int(run) % 1000
    smtp = controller(host="127.0.0.1", port=port)
    smtp.start()
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    ids = [f"<burst-{run}-{n}@customer.example>" for n in range(args.burst)]
    errors: list[BaseException] = []

    def send(number: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
                client.send_message(_message(number, ids[number], run))
        except BaseException as exc:
            errors.append(exc)

    def _message(number: int, message_id: str, run: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = f"burst-{run}-{number}@customer.example"
        message["To"] = f"support@{SLUG}.in.localhost"
        message["Subject"] = f"Burst {number}"
        message["Message-ID"] = message_id
        message.set_content("สวัสดีครับ สินค้ายังไม่มาถึง")
        return message

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(n,)) for n in range(args.burst)]
    for thread in threads:
        thread.start()
    deadline = started + 120
    with schema_context(tenant.schema_name):
        while time.perf_counter() < deadline:
            done = InboundMessage.objects.filter(
                message_id__in=ids, status=InboundMessage.Status.TICKETED
            ).count()
            if done == args.burst:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        tickets = Ticket.objects.filter(subject__startswith="Burst ", channel="email").count()
    for thread in threads:
        thread.join()
    smtp.stop()
    if errors:
        sys.exit(f"{len(errors)} sends failed: {errors[0]!r}")
    print(
        f"{args.burst} messages at once over SMTP: {done} ticketed in {elapsed:.1f} s "
        f"({tickets} burst tickets in the workspace); acknowledgements sent: "
        f"{len(getattr(mail, 'outbox', []))}"
    )


if __name__ == "__main__":
    main()
