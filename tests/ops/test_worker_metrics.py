"""A real prefork Celery worker exports the run time of the tasks its children ran."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import crm_platform
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = (
    'rapport_celery_task_duration_seconds_count{task="tenants.tasks.clear_expired_sessions"} 1.0'
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: str, *, until: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                body = str(r.read().decode())
            if until in body:
                return body
        except OSError:
            pass
        time.sleep(0.3)
    return body


def test_worker_exports_task_latency_from_its_children(tmp_path, world):
    port = str(_free_port())
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="crm_platform.settings.test",
        # The test database, where the task's table exists.
        DATABASE_URL=database_url(),
        WORKER_METRICS_PORT=port,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    worker = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm_platform",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--queues=bulk",
            "--loglevel=WARNING",
            f"--hostname=metrics-{port}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "# HELP" in _scrape(port, until="# HELP", timeout=60)
        app = crm_platform.celery_app
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = False
        try:
            app.send_task("tenants.tasks.clear_expired_sessions")
        finally:
            app.conf.task_always_eager = eager
        body = _scrape(port, until=EXPECTED)
        assert EXPECTED in body, body[-2000:]
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr[-2000:]
