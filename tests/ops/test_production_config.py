"""Error reporting and JSON logs are switched on by configuration alone."""

from __future__ import annotations

import json

from tests.platform.test_security import PRODUCTION_ENV, _manage

PROBE = (
    "import logging, sentry_sdk; print(sentry_sdk.get_client().is_active());"
    " logging.getLogger('rapport.probe').warning('probe')"
)


def test_sentry_and_json_logs_follow_the_environment():
    on = _manage(
        {
            **PRODUCTION_ENV,
            "SENTRY_DSN": "https://public@sentry.example.com/1",
            "LOG_FORMAT": "json",
        },
        "shell",
        "-c",
        PROBE,
    )
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip().splitlines()[-1] == "True"
    line = json.loads(on.stderr.strip().splitlines()[-1])
    assert (line["event"], line["level"], line["logger"]) == ("probe", "warning", "rapport.probe")

    off = _manage(PRODUCTION_ENV, "shell", "-c", PROBE)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip().splitlines()[-1] == "False"
    assert "probe" in off.stderr.strip().splitlines()[-1]


TRACING_PROBE = (
    "from django.conf import settings; from opentelemetry import trace;"
    " from opentelemetry.instrumentation.django import DjangoInstrumentor;"
    " print(type(trace.get_tracer_provider()).__name__,"
    " DjangoInstrumentor().is_instrumented_by_opentelemetry,"
    " any('opentelemetry' in m for m in settings.MIDDLEWARE))"
)


def test_tracing_follows_the_environment():
    on = _manage(
        {**PRODUCTION_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
        "shell",
        "-c",
        TRACING_PROBE,
    )
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip().splitlines()[-1] == "TracerProvider True True"

    off = _manage(PRODUCTION_ENV, "shell", "-c", TRACING_PROBE)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip().splitlines()[-1] == "ProxyTracerProvider False False"
