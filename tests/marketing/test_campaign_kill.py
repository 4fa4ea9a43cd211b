"""A sending worker is killed mid-send (SIGKILL, a real process): the rows it had claimed stay
'sending' until their lease runs out, then go to another worker, and every recipient gets the
campaign exactly once. Runs on the committed test workspace and removes what it made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.marketing.campaigns import sending, services
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.models import Campaign, CampaignRecipient, Segment, SegmentMember
from crm_modules.sales.models import Contact
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import World, database_url
from tests.marketing.conftest import Sink, committed_open_contact_rules, fresh
from tests.sales.factories import ContactFactory

ROOT = Path(settings.BASE_DIR)
WORKER = """
import os, sys, django
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "crm_platform.settings.test"
django.setup()
from django_tenants.utils import schema_context
from crm_modules.marketing.campaigns import sending
with schema_context({schema!r}):
    while sending.send_batch({campaign}, limit=5):
        pass
"""


def test_a_killed_worker_sends_nobody_twice(
    world: World, django_db_blocker: Any, smtp_sink: Sink
) -> None:
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    with django_db_blocker.unblock(), committed_open_contact_rules(schema):
        _send_a_campaign_and_kill_its_worker(world, schema, smtp_sink)


def _send_a_campaign_and_kill_its_worker(world: World, schema: str, smtp_sink: Sink) -> None:
    alpha = world.alpha
    with schema_context(schema):
        contacts = [
            ContactFactory.create(first_name=f"K{i}", primary_email=f"k{i}@example.com")
            for i in range(8)
        ]
        segment = Segment.objects.create(name="Kill", kind="static")
        SegmentMember.objects.bulk_create(
            SegmentMember(segment=segment, contact=c) for c in contacts
        )
        campaign = services.campaign_create(
            actor=fresh(alpha.members[Role.MARKETER]),
            draft=CampaignDraft(
                name="Kill",
                segment_id=segment.pk,
                variants=[VariantDraft(subject="Hi", blocks=[{"type": "text", "text": "x"}])],
            ),
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            status="scheduled", send_at=timezone.now(), sent_by=alpha.members[Role.MARKETER].user
        )
        try:
            _kill_and_resume(schema, campaign.pk, smtp_sink)
        finally:
            Campaign.objects.filter(pk=campaign.pk).delete()
            segment.delete()
            Contact.objects.filter(pk__in=[c.pk for c in contacts]).delete()
            AuditEvent.objects.filter(action__startswith="campaign.").delete()
            from crm_modules.activities.models import Activity

            Activity.objects.filter(kind="campaign_email").delete()
            connections.close_all()


def _kill_and_resume(schema: str, campaign_id: int, sink: Sink) -> None:
    sending.campaign_queue_recipients(campaign_id)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": sink.host,
        "EMAIL_PORT": str(sink.port),
        "EMAIL_USE_TLS": "",
    }
    script = WORKER.format(root=str(ROOT), schema=schema, campaign=campaign_id)
    worker = subprocess.Popen([sys.executable, "-c", script], env=env)  # noqa: S603
    seen: list[str] = []

    def on_rcpt(address: str) -> str | None:
        seen.append(address)
        if len(seen) == 4:
            # The fourth message: kill the worker before the server accepts it.
            worker.send_signal(signal.SIGKILL)
            while worker.poll() is None:
                time.sleep(0.01)
            return "451 4.3.0 Try again later"
        return None

    sink.on_rcpt = on_rcpt
    assert worker.wait(timeout=180) == -signal.SIGKILL
    sink.on_rcpt = None

    rows = CampaignRecipient.objects.filter(campaign_id=campaign_id)
    assert len(sink.messages) == 3
    # Its batch of five: three sent, two still claimed under the lease; the rest queued.
    assert Counter(rows.values_list("status", flat=True)) == Counter(
        {"sent": 3, "sending": 2, "queued": 3}
    )
    assert sending.send_batch(campaign_id, limit=100) == 3  # the lease still holds two
    rows.filter(status="sending").update(lease_until=timezone.now())
    time.sleep(0.01)
    assert sending.send_batch(campaign_id, limit=100) == 2
    assert Counter(sink.to()) == Counter({f"k{i}@example.com": 1 for i in range(8)})
    assert len({str(m["Message-ID"]) for m in sink.messages}) == 8
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert sending.campaign_finish_if_done(campaign_id)
