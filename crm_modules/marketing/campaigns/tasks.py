"""Celery tasks of campaigns; each takes ids and calls the sending functions. The schema
travels with each task (tenant_schemas_celery). While the workspace's plan leaves marketing
out, each task is held (ADR 0078): it sends nothing and parks the campaign, held by the plan,
until the plan includes marketing again (ADR 0081, ``campaigns.held``)."""

from __future__ import annotations

import datetime
import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from crm_modules.marketing.campaigns import abtest, sending
from crm_modules.marketing.campaigns.held import campaign_hold, campaigns_resume
from crm_modules.marketing.deliverability.pause import bulk_paused
from crm_modules.marketing.models import Campaign
from crm_modules.marketing.plan import marketing_in_plan_here


def _held(campaign_id: int) -> bool:
    """The plan leaves marketing out: park the campaign, held by the plan (ADR 0081). It
    resumes from the plan change or the sweep, so no task keeps coming back meanwhile."""
    if marketing_in_plan_here():
        return False
    campaign_hold(campaign_id)
    return True


@shared_task(queue="bulk")
def campaign_queue(campaign_id: int) -> int:
    """Snapshot the segment into recipient rows, then start the senders (or the A/B test)."""
    if _held(campaign_id):
        return 0
    made = sending.campaign_queue_recipients(campaign_id)
    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if status == Campaign.Status.TESTING:
        campaign = Campaign.objects.get(pk=campaign_id)
        campaign_pick_winner.apply_async((campaign_id,), countdown=campaign.ab_wait_minutes * 60)
    if status in (Campaign.Status.SENDING, Campaign.Status.TESTING):
        for _worker in range(settings.MARKETING_SEND_CONCURRENCY):
            campaign_send.delay(campaign_id)
    return made


@shared_task(queue="bulk", acks_late=True)
def campaign_send(campaign_id: int) -> int:
    """Send batches until nothing is due or the time slice is used, then hand over to a fresh
    task (so one campaign never holds a worker for hours, and a killed worker loses at most the
    rows it had claimed, which its lease returns)."""
    if _held(campaign_id):
        return 0
    if bulk_paused():
        # Resuming (deliverability.pause.bulk_sending_resume) starts the senders again.
        return 0
    slice_end = time.monotonic() + settings.MARKETING_SEND_SLICE_SECONDS
    total = 0
    while time.monotonic() < slice_end:
        claimed = sending.send_batch(campaign_id, limit=settings.MARKETING_SEND_BATCH)
        total += claimed
        if not claimed:
            break
    else:
        campaign_send.delay(campaign_id)
        return total
    if sending.campaign_finish_if_done(campaign_id):
        return total
    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if status not in (Campaign.Status.SENDING, Campaign.Status.TESTING):
        return total
    due = sending.next_due(campaign_id)
    if due is not None and not settings.CELERY_TASK_ALWAYS_EAGER:
        eta = max(due, timezone.now() + datetime.timedelta(seconds=1))
        campaign_send.apply_async((campaign_id,), eta=eta)
    return total


@shared_task
def campaign_pick_winner(campaign_id: int) -> str:
    """After the waiting time: pick the A/B winner and send it to the held recipients; while
    the test group is still being sent, look again later."""
    if _held(campaign_id):
        return ""
    letter = abtest.winner_pick(campaign_id)
    if letter is None:
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            campaign_pick_winner.apply_async((campaign_id,), countdown=300)
        return ""
    for _worker in range(settings.MARKETING_SEND_CONCURRENCY):
        campaign_send.delay(campaign_id)
    return letter


@shared_task
def resume_held_campaigns() -> int:
    """After the plan changed (billing's ``plan_changed``), in the workspace schema the task
    was sent from: resume the campaigns the plan held. The sweep clears the alarm."""
    if not marketing_in_plan_here():
        return 0
    return campaigns_resume()
