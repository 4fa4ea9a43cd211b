"""Signed tracking tokens. A token names a recipient row (and for a click, the index of a link
in that recipient's variant), signed with a salt that carries the workspace's schema: a token
cannot be forged, altered to another recipient or link, or replayed on another workspace's
host. A click token never carries a URL, so the redirect can only go to a link of the campaign.
"""

from __future__ import annotations

from django.core import signing

SEPARATOR = ":"


class TrackingTokens:
    """Open and click tokens under one salt prefix (campaigns and sequences each have one)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _signer(self, schema_name: str, kind: str) -> signing.Signer:
        return signing.Signer(salt=f"{self.prefix}.{kind}.{schema_name}", sep=SEPARATOR)

    def open_token(self, schema_name: str, row_id: int) -> str:
        return self._signer(schema_name, "open").sign(str(row_id))

    def click_token(self, schema_name: str, row_id: int, link: int) -> str:
        return self._signer(schema_name, "click").sign(f"{row_id}.{link}")

    def open_read(self, schema_name: str, token: str) -> int | None:
        try:
            value = self._signer(schema_name, "open").unsign(token)
        except signing.BadSignature:
            return None
        return int(value) if value.isdigit() else None

    def click_read(self, schema_name: str, token: str) -> tuple[int, int] | None:
        try:
            value = self._signer(schema_name, "click").unsign(token)
        except signing.BadSignature:
            return None
        row, _dot, link = value.partition(".")
        if not (row.isdigit() and link.isdigit()):
            return None
        return int(row), int(link)


CAMPAIGN_TOKENS = TrackingTokens("marketing.track")
open_token = CAMPAIGN_TOKENS.open_token
click_token = CAMPAIGN_TOKENS.click_token
open_read = CAMPAIGN_TOKENS.open_read
click_read = CAMPAIGN_TOKENS.click_read
