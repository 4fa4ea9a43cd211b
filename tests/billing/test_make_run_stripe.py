"""`make run` without a Stripe key starts the local Stripe stand-in and syncs the plans to it,
so a newcomer can subscribe the demo workspace."""

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


def test_make_run_starts_the_local_stripe_with_the_plans_when_no_key_is_set(run):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env["STRIPE_PORT"] = str(_free_port())
    env["PORT"] = "8000"
    process = run.local_stripe(env)
    assert process is not None
    try:
        assert env["STRIPE_API_BASE"] == f"http://127.0.0.1:{env['STRIPE_PORT']}"
        prices = requests.get(
            f"{env['STRIPE_API_BASE']}/v1/prices",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {env['STRIPE_SECRET_KEY']}"},
            timeout=10,
        ).json()["data"]
        assert sorted(price["lookup_key"] for price in prices)[:2] == [
            "rapport_enterprise_month",
            "rapport_enterprise_year",
        ]
        assert len(prices) == 6
        assert env["STRIPE_WEBHOOK_SECRET"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_configured_stripe_key_is_left_alone(run):
    env = {"STRIPE_SECRET_KEY": "sk_live_configured", "PORT": "8000"}
    assert run.local_stripe(env) is None
    assert env == {"STRIPE_SECRET_KEY": "sk_live_configured", "PORT": "8000"}
