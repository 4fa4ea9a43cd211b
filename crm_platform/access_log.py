"""Secrets in URLs stay out of the access log.

The hand-over token (``/handover/?token=…``, one use, 60 seconds), the invitation token
(``/invitations/<token>/``, valid for days) and the signup link (``/signup/confirm/<token>/``,
one use, valid for days) travel in URLs that the ASGI server logs. The log
keeps the request, with each token replaced by ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

TOKEN_IN_URL = re.compile(r"((?:[?&]token=)|(?:/invitations/)|(?:/signup/confirm/))[^&\s/]+")


def redact(text: str) -> str:
    return TOKEN_IN_URL.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        record.msg = redact(record.msg) if isinstance(record.msg, str) else record.msg
        return True


def install() -> None:
    """Attach the filter to the ASGI server's access log (uvicorn's, and daphne's)."""
    for name in ("uvicorn.access", "django.channels.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
