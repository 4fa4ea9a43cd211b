"""Deliverability (ADR 0043): sender domains (``domains``), DKIM signing (``signing``), bounce
and complaint webhooks (``webhooks``, ``events``) and the bulk-sending pause (``pause``)."""
