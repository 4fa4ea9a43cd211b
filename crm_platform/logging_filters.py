"""Logging filters.

A role check that refuses (PermissionDenied → 403) is an expected event, not a fault: Django
logs it with the exception attached, which prints a full traceback. The refusal keeps its one
warning line ("Forbidden (Permission denied): /path"), without the traceback.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class RefusalWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
