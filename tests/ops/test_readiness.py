from __future__ import annotations

import pytest
from django.test import Client


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
