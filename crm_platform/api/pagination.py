"""Keyset pagination for every list (D9, D21): constant time on any page of a million rows,
stable while rows are added. A list view orders by an indexed, unique-ending key."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
