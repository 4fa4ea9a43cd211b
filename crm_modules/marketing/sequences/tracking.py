"""Opens and clicks of sequence emails, for the conditions "only if the previous email was not
opened / clicked". Tokens are signed like a campaign's (a salt per kind and workspace schema)
and name a step run and, for a click, the index of a link of its step: never a URL."""

from __future__ import annotations

import datetime

from crm_modules.marketing.campaigns.tokens import TrackingTokens
from crm_modules.marketing.models_sequences import StepRun

# Opens and clicks of a step run (a click names the index of a link of its step).
SEQUENCE_TOKENS = TrackingTokens("marketing.sequence")
open_token = SEQUENCE_TOKENS.open_token
click_token = SEQUENCE_TOKENS.click_token
open_read = SEQUENCE_TOKENS.open_read
click_read = SEQUENCE_TOKENS.click_read


def run_opened(run: StepRun, *, at: datetime.datetime) -> None:
    StepRun.objects.filter(pk=run.pk, opened_at__isnull=True).update(opened_at=at)


def run_clicked(run: StepRun, *, at: datetime.datetime) -> None:
    """A click implies the message was opened (images may be blocked)."""
    StepRun.objects.filter(pk=run.pk, clicked_at__isnull=True).update(clicked_at=at)
    StepRun.objects.filter(pk=run.pk, opened_at__isnull=True).update(opened_at=at)
