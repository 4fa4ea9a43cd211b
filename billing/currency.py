"""Which currency to show a visitor first: EUR for a browser in the euro area, else USD."""

from __future__ import annotations

from billing.plans import CURRENCIES, DEFAULT_CURRENCY

# ISO 3166 codes of the euro area (Bulgaria joined on 1 January 2026).
EURO_AREA: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT",
        "LU", "LV", "MT", "NL", "PT", "SI", "SK",
    }
)  # fmt: skip


def _preferred_region(accept_language: str) -> str | None:
    """The region of the most preferred language tag that names one (``de-AT`` → ``AT``)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        subtags = tag.strip().replace("_", "-").split("-")
        # The region is the first two-letter subtag after the language (zh-Hant-TW → TW).
        region = next((s for s in subtags[1:] if len(s) == 2 and s.isalpha()), None)
        if region and quality > 0:
            ranked.append((-quality, position, region.upper()))
    return min(ranked)[2] if ranked else None


def preselected_currency(*, accept_language: str, requested: str = "") -> str:
    if requested.upper() in CURRENCIES:
        return requested.upper()
    region = _preferred_region(accept_language)
    return "EUR" if region in EURO_AREA else DEFAULT_CURRENCY
