"""ISO 4217 currencies offered as a workspace's default currency, and the one a visitor gets
first: the one they asked for, else EUR for a browser in the euro area, else USD."""

CURRENCY_CODES: tuple[str, ...] = (
    "AED", "ARS", "AUD", "BDT", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK",
    "EGP", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KES", "KRW", "KZT",
    "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "PEN", "PHP", "PKR", "PLN", "QAR", "RON", "RSD",
    "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD", "VND", "ZAR",
)  # fmt: skip

# ISO 3166 codes of the euro area (Bulgaria joined on 1 January 2026).
EURO_AREA: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT",
        "LU", "LV", "MT", "NL", "PT", "SI", "SK",
    }
)  # fmt: skip


def preferred_region(accept_language: str) -> str | None:
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


def visitor_currency(
    *, accept_language: str, requested: str = "", offered: tuple[str, ...] = CURRENCY_CODES
) -> str:
    """``requested`` when it is one of ``offered``, else EUR in the euro area, else USD."""
    if requested.upper() in offered:
        return requested.upper()
    return "EUR" if preferred_region(accept_language) in EURO_AREA else "USD"
