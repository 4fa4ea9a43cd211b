"""Django's LOGGING for every environment: stdlib and structlog records through one formatter
(JSON lines with LOG_FORMAT=json, readable text otherwise), with the context bound by
crm_platform.observability (request id, workspace schema, user) on every line. Imported by the
settings, so it imports nothing from Django."""

from __future__ import annotations

from typing import Any

import structlog


def add_workspace_schema(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """The schema the database connection of this thread is set to, i.e. the workspace being
    served (web request, WebSocket, Celery task or command); read when the line is written."""
    if "schema" not in event:
        from django.db import connection

        event["schema"] = getattr(connection, "schema_name", None)
    return event


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    add_workspace_schema,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def logging_config(*, json_format: bool, level: str) -> dict[str, Any]:
    """Django's LOGGING: stdlib and structlog records through one formatter (JSON or console),
    with the bound context (request id, workspace, user) on every line."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_format
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            }
        },
        # A role refusal is an expected event: one line, no traceback.
        "filters": {"refusals": {"()": "crm_platform.logging_filters.RefusalWithoutTraceback"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "django.request": {"filters": ["refusals"]},
        },
    }
