"""``manage.py inbound_smtp``: receive the workspaces' email over SMTP on loopback (development
and tests; production receives through the webhook, ADR 0036)."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from crm_modules.service.mail.smtp import controller


class Command(BaseCommand):
    help = "Receive inbound email over SMTP on loopback and ticket it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.INBOUND_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.INBOUND_SMTP_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        server = controller(host=options["host"], port=options["port"])
        server.start()
        self.stdout.write(f"Receiving email on {options['host']}:{options['port']}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
