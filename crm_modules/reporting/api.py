"""The reporting facade: what other modules may use.

A module offers its records to reports by registering a ``DataSource`` (in its ``module.py``
or a file it imports), declaring each field with a ``FieldType``, any ``Measure`` of its own,
how its records are scoped and where one opens.
"""

from __future__ import annotations

from crm_modules.reporting.module import VIEW_REPORTS
from crm_modules.reporting.registry import (
    DataSource,
    Field,
    FieldType,
    Measure,
    all_sources,
    get_source,
    register_source,
    unregister_source,
)

__all__ = [
    "VIEW_REPORTS",
    "DataSource",
    "Field",
    "FieldType",
    "Measure",
    "all_sources",
    "get_source",
    "register_source",
    "unregister_source",
]
