"""`make run`: migrate, keep the spare pool, seed the demo workspace, then serve HTTP and
WebSocket from one ASGI process on http://localhost:$PORT (8000 by default)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = "8000"
DEFAULT_S3_PORT = "9100"
DEFAULT_STRIPE_PORT = "8420"


def serve_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of every step: the port served is the port every absolute link uses
    (hand-over redirects, invitation links, CSP form-action, the banner), unless SITE_PORT
    names another public port explicitly (a proxy in front)."""
    env = dict(environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings.dev")
    env["PORT"] = env.get("PORT") or DEFAULT_PORT
    env["SITE_PORT"] = env.get("SITE_PORT") or env["PORT"]
    return env


def local_s3(env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """Without a configured S3 endpoint or bucket, documents go to moto's S3 server on
    127.0.0.1 (a development dependency, installed by `uv sync`). Its objects live in memory:
    they are gone when `make run` stops."""
    if env.get("AWS_S3_ENDPOINT_URL") or env.get("AWS_STORAGE_BUCKET_NAME"):
        return None
    moto_server = Path(sys.executable).parent / "moto_server"
    if not moto_server.exists():
        print("moto_server is not installed: documents are unavailable", file=sys.stderr)
        return None
    port = env.get("S3_PORT") or DEFAULT_S3_PORT
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", port],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    env.update(
        AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_STORAGE_BUCKET_NAME="rapport-dev-documents",
        AWS_S3_REGION_NAME="us-east-1",
        AWS_ACCESS_KEY_ID=env.get("AWS_ACCESS_KEY_ID", "dev"),
        AWS_SECRET_ACCESS_KEY=env.get("AWS_SECRET_ACCESS_KEY", "dev"),
    )
    manage(env, "shell", "-c", "from crm_platform import s3; s3.bucket_ensure()")
    return process


def _wait_for_port(port: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)


def local_stripe(env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """Without a Stripe key, billing talks to the local Stripe stand-in on 127.0.0.1
    (localstripe, a development dependency, extended by scripts/localstripe_server.py): its
    webhooks come back to this server, signed, and Checkout is a page of its own. Its objects
    live in memory: they are gone when `make run` stops."""
    if env.get("STRIPE_SECRET_KEY"):
        return None
    try:
        import localstripe  # noqa: F401
    except ImportError:
        print("localstripe is not installed: nobody can subscribe", file=sys.stderr)
        return None
    port = env.get("STRIPE_PORT") or DEFAULT_STRIPE_PORT
    secret = env.get("STRIPE_WEBHOOK_SECRET") or "whsec_local_rapport"
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "localstripe_server.py"),
            "--port",
            port,
            "--webhook-url",
            f"http://localhost:{env['PORT']}/stripe/webhook/",
            "--webhook-secret",
            secret,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(port)
    env.update(
        STRIPE_SECRET_KEY="sk_test_local_rapport",  # noqa: S106 (the stand-in takes any)
        STRIPE_API_BASE=f"http://127.0.0.1:{port}",
        STRIPE_WEBHOOK_SECRET=secret,
    )
    manage(env, "stripe_sync_plans")
    return process


def manage(env: Mapping[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env = serve_environment(os.environ)
    s3_server = local_s3(env)
    stripe_server = local_stripe(env)
    try:
        return serve(env)
    finally:
        for process in (s3_server, stripe_server):
            if process is not None:
                process.terminate()


def serve(env: dict[str, str]) -> int:
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
