from celery import shared_task

from billing import services


@shared_task
def trial_sweep() -> dict[str, int]:
    result = services.trial_sweep()
    return {"reminded": result.reminded, "expired": result.expired}
