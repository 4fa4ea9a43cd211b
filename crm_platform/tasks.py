from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection

from crm_platform.mail import payload_to_message


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def deliver_email(payload: dict[str, Any]) -> None:
    with get_connection(settings.EMAIL_DELIVERY_BACKEND) as connection:
        connection.send_messages([payload_to_message(payload)])
