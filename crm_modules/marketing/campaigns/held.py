"""Campaigns held by the plan (ADR 0081). While the workspace's plan leaves marketing out, a
campaign task that comes due (queueing the recipients, sending, picking the A/B winner) changes
nothing but parks the campaign: ``held_by_plan_at`` is set (the campaign pages show "Held by
the plan") and the workspace's held-campaign alarm is set. No task comes back on its own.

The campaign resumes when the plan includes marketing again: at once from the plan change
(billing's ``plan_changed``), and otherwise from the sequence sweep, which visits the workspaces
whose held-campaign alarm is due. Resuming clears the mark and starts the task the campaign's
state needs; the recipient rows are claimed one at a time by the senders, so a sender started
twice sends nothing twice."""

from __future__ import annotations

import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm_modules.marketing.models import Campaign
from tenants.alarms import alarm_at

CAMPAIGNS_HELD_ALARM = "marketing.campaigns_held"
# The states in which a campaign has work waiting; a campaign sent or canceled meanwhile only
# loses its mark.
WAITING = (
    Campaign.Status.SCHEDULED,
    Campaign.Status.QUEUING,
    Campaign.Status.TESTING,
    Campaign.Status.SENDING,
)


def campaign_hold(campaign_id: int, *, now: datetime.datetime | None = None) -> None:
    """In the current workspace schema: park the campaign until the plan includes marketing."""
    when = now or timezone.now()
    Campaign.objects.filter(
        pk=campaign_id, status__in=WAITING, held_by_plan_at__isnull=True
    ).update(held_by_plan_at=when)
    alarm_at(kind=CAMPAIGNS_HELD_ALARM, at=when)


def campaigns_resume(*, now: datetime.datetime | None = None) -> int:
    """In the current workspace schema, once the plan includes marketing: clear every held
    campaign's mark and start what it was waiting for. Returns how many campaigns resumed."""
    from crm_modules.marketing.campaigns import tasks

    when = now or timezone.now()
    resumed = 0
    with transaction.atomic():
        held = list(
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(held_by_plan_at__isnull=False)
            .order_by("held_by_plan_at", "id")
        )
        for campaign in held:
            campaign.held_by_plan_at = None
            campaign.save(update_fields=["held_by_plan_at"])
            if campaign.status not in WAITING:
                continue
            campaign_id = campaign.pk
            if campaign.status in (Campaign.Status.SCHEDULED, Campaign.Status.QUEUING):
                eta = max(campaign.send_at or when, when)
                transaction.on_commit(
                    partial(tasks.campaign_queue.apply_async, (campaign_id,), eta=eta)
                )
            else:
                for _worker in range(settings.MARKETING_SEND_CONCURRENCY):
                    transaction.on_commit(partial(tasks.campaign_send.delay, campaign_id))
                if campaign.status == Campaign.Status.TESTING:
                    # The winner is picked once the test is over; it looks again until it is.
                    transaction.on_commit(partial(tasks.campaign_pick_winner.delay, campaign_id))
            resumed += 1
    return resumed


def campaigns_still_held() -> bool:
    """A held campaign another transaction had locked during the resume: look again."""
    return Campaign.objects.filter(held_by_plan_at__isnull=False).exists()
