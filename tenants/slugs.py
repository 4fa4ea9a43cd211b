"""Rules for a workspace address (<slug>.<BASE_DOMAIN>)."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,28})[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    (
        "about",
        "abuse",
        "account",
        "accounts",
        "admin",
        "administrator",
        "alpha-admin",
        "api",
        "apis",
        "app",
        "apps",
        "assets",
        "auth",
        "beta",
        "billing",
        "blog",
        "cache",
        "careers",
        "cdn",
        "community",
        "console",
        "contact",
        "dashboard",
        "database",
        "db",
        "demo-admin",
        "dev",
        "dns",
        "doc",
        "docs",
        "email",
        "files",
        "forum",
        "ftp",
        "git",
        "grafana",
        "health",
        "healthz",
        "help",
        "host",
        "hostmaster",
        "imap",
        "internal",
        "jobs",
        "legal",
        "local",
        "localhost",
        "login",
        "logout",
        "mail",
        "me",
        "media",
        "metrics",
        "monitoring",
        "mx",
        "my",
        "mysql",
        "news",
        "no-reply",
        "noreply",
        "ns",
        "ns1",
        "ns2",
        "oauth",
        "policy",
        "pop",
        "pop3",
        "portal",
        "postgres",
        "postmaster",
        "pricing",
        "privacy",
        "private",
        "prod",
        "production",
        "public",
        "rapport",
        "redis",
        "register",
        "root",
        "saml",
        "secure",
        "security",
        "server",
        "servers",
        "shop",
        "sign-in",
        "sign-up",
        "signin",
        "signup",
        "smtp",
        "socket",
        "ssh",
        "sso",
        "stage",
        "staging",
        "static",
        "status",
        "status-page",
        "store",
        "support",
        "svn",
        "sys",
        "system",
        "team",
        "teams",
        "terms",
        "test",
        "uploads",
        "vpn",
        "webmail",
        "webmaster",
        "websocket",
        "ws",
        "wss",
        "www",
        "www1",
        "www2",
        "you",
    )
)


def check_workspace_slug(raw: str) -> str:
    slug = (raw or "").strip().lower()
    if not slug:
        raise ServiceError(_("Choose a workspace address."), field="slug", code="required")
    if len(slug) < 3 or len(slug) > 30:
        raise ServiceError(
            _("The workspace address must be 3 to 30 characters long."),
            field="slug",
            code="length",
        )
    if not SLUG_RE.match(slug) or "--" in slug:
        raise ServiceError(
            _(
                "Use lowercase letters, digits and single hyphens only; "
                "the address cannot start or end with a hyphen."
            ),
            field="slug",
            code="format",
        )
    if slug in RESERVED_SLUGS:
        raise ServiceError(
            _("This address is reserved. Choose another."), field="slug", code="reserved"
        )
    return slug
