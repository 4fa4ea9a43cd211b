"""`make run`: migrate, keep the spare pool, seed the demo workspace, then serve HTTP and
WebSocket from one ASGI process on http://localhost:8000."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings.dev")
    manage("migrate_schemas", "--shared", "-v", "0")
    manage("migrate_schemas", "--tenant", "-v", "0")
    manage("replenish_spares", "--target", "2")
    manage("seed_demo")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "crm_platform.asgi:application",
            "--host",
            host,
            "--port",
            port,
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
    )


if __name__ == "__main__":
    sys.exit(main())
