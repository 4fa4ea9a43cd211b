from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.integrations.models import ApiKey
from crm_modules.integrations.module import API_KEY_CREATED, API_KEY_REVOKED, MANAGE_API_KEYS
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

KEY_PREFIX = "rk_"


def digest(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 is enough (no key stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    raw: str  # shown once, never stored


def api_key_create(
    *, actor: Membership, name: str, read_only: bool, owner: Membership | None = None
) -> NewKey:
    """A key acting as ``owner`` (the creator by default)."""
    require(actor, MANAGE_API_KEYS)
    clean_name = check_text(name, field="name", max_length=100, label=_("Name"))
    member = owner or actor
    if member.tenant_id != actor.tenant_id or not member.is_active:
        raise ServiceError(_("Choose a member of this workspace."), field="owner")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    raw = f"{KEY_PREFIX}{prefix}_{secret}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=clean_name,
            prefix=prefix,
            digest=digest(raw),
            read_only=read_only,
            created_by_id=member.user_id,
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=API_KEY_CREATED,
            target=key,
            data={"read_only": read_only, "acts_as": member.user_id},
        )
    return NewKey(key=key, raw=raw)


def api_key_revoke(*, actor: Membership, key: ApiKey) -> ApiKey:
    require(actor, MANAGE_API_KEYS)
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is not None:
            return locked
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=API_KEY_REVOKED,
            target=locked,
            data={"uses": locked.use_count},
        )
    return locked


def api_key_match(raw: str) -> ApiKey | None:
    """The active key ``raw`` is, in the current workspace's schema, or None."""
    if not raw.startswith(KEY_PREFIX) or raw.count("_") < 2:
        return None
    prefix = raw[len(KEY_PREFIX) :].split("_", 1)[0]
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.digest, digest(raw)):
        return None
    ApiKey.objects.filter(pk=key.pk).update(
        use_count=F("use_count") + 1, last_used_at=timezone.now()
    )
    return key
