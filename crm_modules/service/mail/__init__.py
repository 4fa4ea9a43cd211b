"""Email as a ticket channel (ADR 0036): reading a message (``parsing``), the workspace's
addresses and the loop rules (``addresses``, ``loops``), and receiving over SMTP (``smtp``)."""
