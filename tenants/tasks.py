from celery import shared_task

from tenants import services
from tenants.sessions import SessionStore


@shared_task
def replenish_spare_pool() -> int:
    return services.spare_pool_replenish()


@shared_task
def clear_expired_sessions() -> None:
    # django.contrib.sessions (and its clearsessions command) is not installed: our own
    # session model lives in the tenants app.
    SessionStore.clear_expired()


@shared_task
def send_signup_mail(pending_id: int) -> str:
    return services.signup_mail_send(pending_id=pending_id)
