from celery import shared_task

from crm_platform import s3
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


# S3 may refuse or time out for a while; the schema is already gone, so the objects must go too.
@shared_task(
    autoretry_for=(Exception,),
    dont_autoretry_for=(s3.KeyOutsideWorkspace,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=12,
)
def purge_workspace_objects(schema_name: str) -> int:
    """Delete the files of a deleted workspace from the bucket."""
    return s3.workspace_objects_purge(schema_name=schema_name)
