"""The load balancer's and Kubernetes' probes.

They answer before host resolution, HTTPS redirect and sessions, because probes come to the
pod's or node's IP address over plain HTTP; they reveal nothing but which dependency answers.

- `/healthz` (liveness, and the image's HEALTHCHECK): the process serves requests; nothing
  else is checked, so an outage of the database or Redis takes pods out of the load balancer
  (readiness) without restarting them all.
- `/readyz` (readiness): the database, Redis and the documents bucket all answer, each within
  `READINESS_TIMEOUT` seconds. A pod that cannot reach one of them is taken out of the load
  balancer instead of serving errors; it is not restarted for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from crm_platform import s3

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
READINESS_TIMEOUT = 2.0

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(
        str(settings.REDIS_URL),
        socket_timeout=READINESS_TIMEOUT,
        socket_connect_timeout=READINESS_TIMEOUT,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_s3() -> None:
    s3.bucket_reachable(timeout=READINESS_TIMEOUT)


def readiness() -> dict[str, str]:
    """Each configured dependency → "ok" or "unavailable" (details go to the log only)."""
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    if s3.s3_configured():
        checks["s3"] = check_s3
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception:
            logger.exception("Readiness check failed: %s", name)
            results[name] = "unavailable"
        else:
            results[name] = "ok"
    return results


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path not in (HEALTH_PATH, READY_PATH):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if request.path == HEALTH_PATH:
            # Liveness is this process answering, nothing more: a database or Redis outage makes
            # every pod unready (out of the load balancer), never restarts them all in a loop.
            return JsonResponse({"status": "ok"})
        results = readiness()
        ready = all(value == "ok" for value in results.values())
        return JsonResponse(
            {"status": "ok" if ready else "unavailable", "checks": results},
            status=200 if ready else 503,
        )
