"""Structured logs with workspace and request id, /metrics, slow queries."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import secrets
import time
from collections.abc import Iterator

import pytest
import structlog
from channels.testing import WebsocketCommunicator
from django.test import Client
from django_redis import get_redis_connection

import crm_platform
from crm_platform.log_config import logging_config
from crm_platform.observability import (
    WEBSOCKETS_OPEN,
    WebSocketMetricsMiddleware,
    celery_publish_headers,
    celery_task_started,
)
from tests.conftest import workspace_client
from tests.platform.test_tenant_context import celery_worker_thread  # noqa: F401

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The production log configuration, writing to a buffer instead of stderr."""
    stream = io.StringIO()
    config = logging_config(json_format=True, level="INFO")
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_metrics_exist_only_with_a_token(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client(HTTP_HOST="10.0.3.17").get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert Client(HTTP_HOST="10.0.3.17").get("/metrics").status_code == 401
    wrong = Client(HTTP_HOST="10.0.3.17", HTTP_AUTHORIZATION="Bearer nope").get("/metrics")
    assert wrong.status_code == 401


def test_metrics_report_routes_workspaces_and_queues(alpha, settings):
    settings.METRICS_TOKEN = TOKEN
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.get("/members/").status_code == 200

    response = Client(HTTP_HOST="10.0.3.17", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get("/metrics")

    assert response.status_code == 200
    body = response.content.decode()
    assert (
        'rapport_http_request_duration_seconds_count{method="GET",route="members/",status="2xx"}'
        in body
    )
    assert 'rapport_workspaces{state="active"} 2.0' in body
    assert 'rapport_workspaces{state="spare"}' in body
    assert 'rapport_celery_queue_length{queue="interactive"} 0.0' in body
    assert 'rapport_celery_queue_length{queue="bulk"} 0.0' in body
    assert "rapport_websocket_connections" in body


def test_every_log_line_of_a_request_names_the_workspace_user_and_request(
    alpha, settings, json_logs
):
    settings.SLOW_QUERY_MS = 0  # every query counts as slow: each one is logged
    client = workspace_client(alpha.owner.user, alpha.tenant)
    json_logs.truncate(0)
    json_logs.seek(0)

    response = client.get("/members/", HTTP_X_REQUEST_ID="lb-req-42")

    assert response["X-Request-ID"] == "lb-req-42"
    slow = [line for line in lines(json_logs) if line["event"] == "slow_query"]
    assert len(slow) > 5
    assert {line["request_id"] for line in slow} == {"lb-req-42"}
    # The host lookup runs in the public schema; everything after it in the workspace's.
    assert slow[0]["schema"] == "public"
    assert {line["schema"] for line in slow[2:]} == {alpha.tenant.schema_name}
    # Queries before authentication have no user yet; the view's queries do.
    assert alpha.owner.user.pk in {line.get("user_id") for line in slow}
    assert all(line["level"] == "warning" and "timestamp" in line for line in slow)


def test_a_request_id_that_is_not_an_id_is_replaced(alpha):
    response = Client(HTTP_HOST="localhost").get("/", HTTP_X_REQUEST_ID="bad id\nX-Evil: 1")
    assert response["X-Request-ID"] != "bad id\nX-Evil: 1"
    assert len(response["X-Request-ID"]) == 32


def test_the_request_id_travels_into_celery_tasks():
    structlog.contextvars.bind_contextvars(request_id="req-7")
    headers: dict[str, object] = {}
    celery_publish_headers(headers=headers)
    assert headers == {"request_id": "req-7"}
    structlog.contextvars.clear_contextvars()

    class Request:
        request_id = "req-7"

    class Task:
        name = "tenants.tasks.replenish_spare_pool"
        request = Request()

    celery_task_started(task=Task(), task_id="t-1")
    bound = structlog.contextvars.get_contextvars()
    assert (bound["request_id"], bound["task"], bound["task_id"]) == (
        "req-7",
        "tenants.tasks.replenish_spare_pool",
        "t-1",
    )
    structlog.contextvars.clear_contextvars()


async def test_open_websockets_are_counted():
    async def accept_then_wait(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    before = WEBSOCKETS_OPEN._value.get()
    socket = WebsocketCommunicator(WebSocketMetricsMiddleware(accept_then_wait), "/ws/x/")
    connected, _ = await socket.connect()
    assert connected
    assert WEBSOCKETS_OPEN._value.get() == before + 1
    await socket.disconnect()
    assert WEBSOCKETS_OPEN._value.get() == before


@crm_platform.celery_app.task(name="tests.ops.record_request_id")
def record_request_id(probe: str) -> None:
    bound = structlog.contextvars.get_contextvars()
    get_redis_connection("default").set(
        f"rapport-test:request-id:{probe}", str(bound.get("request_id")), ex=60
    )


@pytest.mark.usefixtures("celery_worker_thread")
def test_a_real_worker_logs_with_the_request_id_of_the_sender(world, django_db_blocker):
    probe = secrets.token_hex(8)
    with django_db_blocker.unblock():
        structlog.contextvars.bind_contextvars(request_id="req-from-web-1")
        try:
            record_request_id.delay(probe)
        finally:
            structlog.contextvars.clear_contextvars()
        redis = get_redis_connection("default")
        deadline = time.monotonic() + 20
        seen = None
        while seen is None and time.monotonic() < deadline:
            seen = redis.get(f"rapport-test:request-id:{probe}")
            time.sleep(0.05)
    assert seen == b"req-from-web-1"
