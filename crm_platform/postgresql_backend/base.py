"""The database engine named in settings: django-tenants' wrapper with our introspection."""

from __future__ import annotations

from typing import Any

from django_tenants.postgresql_backend import base as tenants_base

from .introspection import SchemaTableIntrospection


class DatabaseWrapper(tenants_base.DatabaseWrapper):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # django-tenants sets its own introspection in __init__, not through the class attribute.
        self.introspection = SchemaTableIntrospection(self)
