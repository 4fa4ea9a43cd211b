"""`make run`: migrate, keep the spare pool, seed the demo workspace, then serve HTTP and
WebSocket from one ASGI process on http://localhost:$PORT (8000 by default)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = "8000"


def serve_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of every step: the port served is the port every absolute link uses
    (hand-over redirects, invitation links, CSP form-action, the banner), unless SITE_PORT
    names another public port explicitly (a proxy in front)."""
    env = dict(environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings.dev")
    env["PORT"] = env.get("PORT") or DEFAULT_PORT
    env["SITE_PORT"] = env.get("SITE_PORT") or env["PORT"]
    return env


def manage(env: Mapping[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env = serve_environment(os.environ)
    manage(env, "migrate_schemas", "--shared", "-v", "0")
    manage(env, "migrate_schemas", "--tenant", "-v", "0")
    manage(env, "replenish_spares", "--target", "2")
    manage(env, "seed_demo")
    host = env.get("HOST", "127.0.0.1")
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "crm_platform.asgi:application",
            "--host",
            host,
            "--port",
            env["PORT"],
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=env,
    )


if __name__ == "__main__":
    sys.exit(main())
