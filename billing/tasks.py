from celery import shared_task
from django.conf import settings

from billing import services
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
