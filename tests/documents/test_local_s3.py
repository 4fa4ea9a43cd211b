from __future__ import annotations

import os
import sys
from types import ModuleType

import pytest
import requests

from tests.ops.conftest import _free_port


@pytest.fixture
def run() -> ModuleType:
    sys.path.insert(0, "scripts")
    try:
        import run
    finally:
        sys.path.remove("scripts")
    return run


def test_make_run_starts_a_local_s3_with_the_bucket_when_none_is_configured(run):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["S3_PORT"] = str(_free_port())
    process = run.local_s3(env)
    assert process is not None
    try:
        assert env["AWS_S3_ENDPOINT_URL"] == f"http://127.0.0.1:{env['S3_PORT']}"
        bucket = requests.get(
            f"{env['AWS_S3_ENDPOINT_URL']}/{env['AWS_STORAGE_BUCKET_NAME']}", timeout=10
        )
        assert bucket.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_configured_s3_is_left_alone(run):
    env = {"AWS_S3_ENDPOINT_URL": "https://s3.example.com"}
    assert run.local_s3(env) is None
    assert env == {"AWS_S3_ENDPOINT_URL": "https://s3.example.com"}
