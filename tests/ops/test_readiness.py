from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_ready_when_database_redis_and_bucket_answer(db, s3_bucket):
    response = Client(HTTP_HOST="10.0.3.17").get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "s3": "ok"},
    }
    assert response.cookies == {}


def test_not_ready_when_redis_does_not_answer(db, s3_bucket, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client(HTTP_HOST="10.0.3.17").get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unavailable", "s3": "ok"},
    }


def test_not_ready_when_the_bucket_is_missing(db, s3_bucket, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket"
    response = Client(HTTP_HOST="10.0.3.17").get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "s3": "unavailable"}


def test_s3_is_not_checked_where_no_bucket_is_configured(db, settings):
    settings.AWS_STORAGE_BUCKET_NAME = ""
    response = Client(HTTP_HOST="localhost").get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_readiness_accepts_only_get(db, method):
    assert getattr(Client(HTTP_HOST="localhost"), method)("/readyz").status_code == 405


def test_not_ready_but_live_when_the_database_does_not_answer():
    """A process whose database is unreachable (a port nothing listens on): readiness names the
    database and answers 503; liveness still answers, so the pod is taken out of the load
    balancer rather than restarted; Redis is still reported on its own."""
    script = (
        "import django, json\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "client = Client(HTTP_HOST='10.0.3.17', raise_request_exception=False)\n"
        "ready = client.get('/readyz')\n"
        "live = client.get('/healthz')\n"
        "print(json.dumps([ready.status_code, ready.json(), live.status_code]))\n"
    )
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="crm_platform.settings.test",
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/rapport?connect_timeout=2",
        AWS_STORAGE_BUCKET_NAME="",
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    ready_status, ready, live_status = json.loads(result.stdout.strip().splitlines()[-1])
    assert ready_status == 503
    assert ready == {"status": "unavailable", "checks": {"database": "unavailable", "redis": "ok"}}
    assert live_status == 200
