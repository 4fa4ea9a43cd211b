from datetime import timedelta

from celery import shared_task
from django.conf import settings

from billing import reconcile, retention, services, webhooks
from billing.seats import seats_sync
from billing.stripe_api import StripeUnavailable


@shared_task
def trial_sweep() -> dict[str, int]:
    result = services.trial_sweep()
    return {"reminded": result.reminded, "expired": result.expired}


@shared_task(
    autoretry_for=(StripeUnavailable,),
    retry_backoff=30,
    retry_backoff_max=60 * 30,
    retry_jitter=True,
    max_retries=8,
)
def bill_seats(tenant_id: int) -> int | None:
    """The subscription's quantity set to the seats in use at the time it runs, so a burst of
    invitations within the delay makes one update."""
    return seats_sync(tenant_id=tenant_id)


def bill_seats_soon(*, tenant_id: int, **_: object) -> None:
    bill_seats.apply_async(args=(tenant_id,), countdown=settings.BILLING_SEATS_DELAY_SECONDS)


@shared_task(autoretry_for=(StripeUnavailable,), retry_backoff=10, max_retries=8)
def process_stripe_event(event_id: str) -> bool:
    return webhooks.stripe_event_process(event_id=event_id)


@shared_task
def stripe_events_sweep() -> int:
    """Events whose task was lost (a broker outage) are applied by this beat task."""
    pending = webhooks.stripe_events_unprocessed(older_than=timedelta(minutes=5))
    return sum(webhooks.stripe_event_process(event_id=event_id) for event_id in pending)


@shared_task
def dunning_sweep() -> int:
    return webhooks.dunning_sweep()


@shared_task
def retention_sweep() -> dict[str, int]:
    """Canceled workspaces: deletion planned, warnings sent, and a drop task for each one due."""
    result = retention.retention_sweep()
    for deletion_id in result.due:
        drop_workspace.delay(deletion_id)
    return {"scheduled": result.scheduled, "warned": result.warned, "due": len(result.due)}


@shared_task
def drop_workspace(deletion_id: int) -> bool:
    return retention.workspace_drop(deletion_id=deletion_id)


@shared_task
def reconcile_subscriptions(tenant_ids: list[int] | None = None) -> dict[str, int]:
    """Nightly (and on demand from the staff admin): our records compared with Stripe's."""
    result = reconcile.reconcile_all(tenant_ids=tenant_ids)
    return {"checked": result.checked, "repaired": result.repaired, "failed": result.failed}
