"""Opens and clicks of sequence emails, for the conditions "only if the previous email was not
opened / clicked". Tokens are signed like a campaign's (a salt per kind and workspace schema)
and name a step run and, for a click, the index of a link of its step: never a URL."""

from __future__ import annotations

import datetime

from django.core import signing

from crm_modules.marketing.models_sequences import StepRun

SEPARATOR = ":"


def _signer(schema_name: str, kind: str) -> signing.Signer:
    return signing.Signer(salt=f"marketing.sequence.{kind}.{schema_name}", sep=SEPARATOR)


def open_token(schema_name: str, run_id: int) -> str:
    return _signer(schema_name, "open").sign(str(run_id))


def click_token(schema_name: str, run_id: int, link: int) -> str:
    return _signer(schema_name, "click").sign(f"{run_id}.{link}")


def open_read(schema_name: str, token: str) -> int | None:
    try:
        value = _signer(schema_name, "open").unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def click_read(schema_name: str, token: str) -> tuple[int, int] | None:
    try:
        value = _signer(schema_name, "click").unsign(token)
    except signing.BadSignature:
        return None
    run, _dot, link = value.partition(".")
    if not (run.isdigit() and link.isdigit()):
        return None
    return int(run), int(link)


def run_opened(run: StepRun, *, at: datetime.datetime) -> None:
    StepRun.objects.filter(pk=run.pk, opened_at__isnull=True).update(opened_at=at)


def run_clicked(run: StepRun, *, at: datetime.datetime) -> None:
    """A click implies the message was opened (images may be blocked)."""
    StepRun.objects.filter(pk=run.pk, clicked_at__isnull=True).update(clicked_at=at)
    StepRun.objects.filter(pk=run.pk, opened_at__isnull=True).update(opened_at=at)
