"""django-tenants' PostgreSQL backend with a table list whose cost does not grow with the
number of workspaces (see introspection.py)."""
