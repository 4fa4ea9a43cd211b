"""Logs, metrics and slow queries, each tagged with the workspace they concern.

- Every log line carries ``request_id``, ``schema`` (the workspace's schema, or ``public``) and
  ``user_id`` when known: the request middleware binds them in structlog's context variables,
  which the JSON formatter (``LOG_FORMAT=json``) adds to stdlib records as well. The request id
  comes from ``X-Request-ID`` (set by the load balancer) or is made here, is returned in the
  response, and travels into Celery tasks as a message header.
- ``/metrics`` serves Prometheus metrics (request latency by route, WebSocket connections,
  Celery queue lengths, workspaces by state, the spare pool) to holders of ``METRICS_TOKEN``
  only; without a token configured it does not exist (404).
- A query slower than ``SLOW_QUERY_MS`` is logged as ``slow_query`` with its workspace and
  request id, from web requests and Celery tasks alike.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from django.conf import settings
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from crm_platform.log_config import SHARED_PROCESSORS

METRICS_PATH = "/metrics"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

logger = structlog.get_logger("rapport")

REQUEST_LATENCY = Histogram(
    "rapport_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern (not by URL: ids stay out of labels).",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBSOCKETS_OPEN = Gauge("rapport_websocket_connections", "WebSocket connections open now.")
SLOW_QUERIES = Counter(
    "rapport_db_slow_queries_total", "Queries slower than SLOW_QUERY_MS (details in the logs)."
)
TASK_LATENCY = Histogram(
    "rapport_celery_task_duration_seconds",
    "Celery task run time, by task (recorded in the process that ran it).",
    ["task"],
)


# --- request context ------------------------------------------------------------------------


def request_id_from(value: str | None) -> str:
    if value and REQUEST_ID_PATTERN.match(value):
        return value
    return uuid.uuid4().hex


def bind_context(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


class RequestContextMiddleware:
    """Binds the request id for the logs and times the request for /metrics. Outermost but for
    the probes; the user is bound in process_view, which Django runs after authentication, and
    the workspace is read from the connection as each line is written (log_config)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        structlog.contextvars.clear_contextvars()
        bind_context(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        REQUEST_LATENCY.labels(
            request.method or "", route, f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            bind_context(user_id=user.pk)


# --- Celery ---------------------------------------------------------------------------------


def celery_publish_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """before_task_publish: the sender's request id goes with the task."""
    if headers is None:
        return
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        headers.setdefault("request_id", request_id)


def celery_task_started(task: Any = None, task_id: str | None = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    request = getattr(task, "request", None)
    request_id = getattr(request, "request_id", None) or (
        (getattr(request, "headers", None) or {}).get("request_id")
    )
    bind_context(
        request_id=request_id_from(request_id),
        task=getattr(task, "name", ""),
        task_id=task_id,
    )
    if request is not None:
        request._rapport_started = time.perf_counter()


def celery_task_finished(task: Any = None, **_: Any) -> None:
    started = getattr(getattr(task, "request", None), "_rapport_started", None)
    if started is not None:
        TASK_LATENCY.labels(getattr(task, "name", "")).observe(time.perf_counter() - started)
    structlog.contextvars.clear_contextvars()


def start_worker_metrics(**_: Any) -> None:
    """worker_init (the worker's main process): serve /metrics on WORKER_METRICS_PORT. With a
    prefork pool, set PROMETHEUS_MULTIPROC_DIR so that every child's task timings are summed
    (the manifests do); workers have no Service, and a NetworkPolicy admits only monitoring."""
    import os

    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, registry=registry)
    else:
        start_http_server(port)


def worker_child_exited(pid: int | None = None, **_: Any) -> None:
    import os

    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


def connect_celery_signals() -> None:
    from celery import signals

    signals.before_task_publish.connect(celery_publish_headers, weak=False)
    signals.task_prerun.connect(celery_task_started, weak=False)
    signals.task_postrun.connect(celery_task_finished, weak=False)
    signals.worker_init.connect(start_worker_metrics, weak=False)
    signals.worker_process_shutdown.connect(worker_child_exited, weak=False)


# --- slow queries ---------------------------------------------------------------------------


def slow_query_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms >= settings.SLOW_QUERY_MS:
            SLOW_QUERIES.inc()
            logger.warning("slow_query", duration_ms=round(elapsed_ms, 1), sql=sql[:2000])


def install_slow_query_log(sender: Any = None, connection: Any = None, **_: Any) -> None:
    """connection_created: every new database connection reports its slow queries."""
    if connection is not None and slow_query_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(slow_query_wrapper)


def connect_slow_query_log() -> None:
    connection_created.connect(install_slow_query_log, weak=False)


# --- /metrics -------------------------------------------------------------------------------


class PlatformCollector(Collector):
    """Read at scrape time: workspaces by state (spares are the signup pool) and Celery queue
    lengths in the broker."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only: without describe() the registry would call collect() at registration,
        # querying the database while apps load.
        yield GaugeMetricFamily("rapport_workspaces", "", labels=["state"])
        yield GaugeMetricFamily("rapport_celery_queue_length", "", labels=["queue"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from tenants.models import Tenant

        workspaces = GaugeMetricFamily(
            "rapport_workspaces", "Workspaces by state (spare = the signup pool).", labels=["state"]
        )
        counts = dict.fromkeys(Tenant.State.values, 0)
        for state, count in _count_workspaces():
            counts[state] = count
        for state, count in counts.items():
            workspaces.add_metric([state], count)
        yield workspaces

        if settings.REDIS_URL:
            queues = GaugeMetricFamily(
                "rapport_celery_queue_length",
                "Tasks waiting in each Celery queue.",
                labels=["queue"],
            )
            for queue, length in _queue_lengths(_queue_names()):
                queues.add_metric([queue], length)
            yield queues


def _count_workspaces() -> Iterable[tuple[str, int]]:
    from django.db.models import Count

    from tenants.models import Tenant

    counts: list[tuple[str, int]] = list(
        Tenant.objects.values_list("state").annotate(n=Count("pk")).order_by()
    )
    return counts


def _queue_names() -> list[str]:
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    names.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values())
    return sorted(names)


def _queue_lengths(queues: list[str]) -> list[tuple[str, int]]:
    import redis

    client = redis.Redis.from_url(str(settings.REDIS_URL), socket_timeout=2)
    try:
        return [(queue, int(client.llen(queue))) for queue in queues]
    finally:
        client.close()


_collector_registered = False


def register_platform_collector() -> None:
    global _collector_registered
    if not _collector_registered:
        REGISTRY.register(PlatformCollector())
        _collector_registered = True


class MetricsMiddleware:
    """/metrics for Prometheus, before host resolution (it scrapes the pod's address)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != METRICS_PATH:
            return self.get_response(request)
        token = settings.METRICS_TOKEN
        if not token:
            return HttpResponseNotFound()
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return HttpResponse(status=401, headers={"WWW-Authenticate": "Bearer"})
        return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


# --- WebSockets -----------------------------------------------------------------------------


class WebSocketMetricsMiddleware:
    """ASGI: counts WebSocket connections from their accept to the end of the connection."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        accepted = False

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                WEBSOCKETS_OPEN.inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                WEBSOCKETS_OPEN.dec()


def configure_structlog() -> None:
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def setup() -> None:
    """Called once per process from the app config."""
    from crm_platform.tracing import setup_tracing

    setup_tracing()
    configure_structlog()
    connect_slow_query_log()
    connect_celery_signals()
    register_platform_collector()
    logging.getLogger(__name__).debug("observability configured")
