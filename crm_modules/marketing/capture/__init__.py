"""Lead capture (ADR 0035): forms built by marketers (``definition``), shown on a hosted page
and embedded on other sites by a script (``public`` views), guarded by a signed token, a
honeypot and rate limits (``guard``), turned into leads or contact updates (``submit``)."""
