from celery import shared_task

from tenants import services


@shared_task
def replenish_spare_pool() -> int:
    return services.spare_pool_replenish()
