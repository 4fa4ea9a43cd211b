from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core.cache import cache
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

# A key's uses are counted in the cache (whose keys carry the workspace's schema, D6) and
# written to its row at most once per this many seconds, so a read through the API does not
# also write and commit. ``last_used_at`` is therefore exact to within this window, and pages
# add the uses not yet written.
USES_WRITE_SECONDS = 60


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
    """A key acting as ``owner`` (the creator by default). ``MANAGE_API_KEYS`` belongs to the
    plans with the API, so no key is made on another."""
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
        pending = _take_pending_uses(locked.pk)
        locked.revoked_at = timezone.now()
        locked.use_count += pending
        locked.save(update_fields=["revoked_at", "use_count"])
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
    _count_pending_use(key.pk)
    if cache.add(_written_key(key.pk), 1, timeout=USES_WRITE_SECONDS):
        ApiKey.objects.filter(pk=key.pk).update(
            use_count=F("use_count") + _take_pending_uses(key.pk), last_used_at=timezone.now()
        )
    return key


def api_key_uses(keys: list[ApiKey]) -> dict[int, int]:
    """Each key's uses: those written to its row plus those still counted in the cache."""
    pending = cache.get_many([_pending_key(key.pk) for key in keys])
    return {key.pk: key.use_count + int(pending.get(_pending_key(key.pk)) or 0) for key in keys}


def _pending_key(key_id: int) -> str:
    return f"api-key-uses:{key_id}"


def _written_key(key_id: int) -> str:
    return f"api-key-uses-written:{key_id}"


def _count_pending_use(key_id: int) -> None:
    # No expiry: the uses wait for the key's next written use, or its revocation.
    cache.add(_pending_key(key_id), 0, timeout=None)
    try:
        cache.incr(_pending_key(key_id))
    except ValueError:  # evicted in between
        cache.set(_pending_key(key_id), 1, timeout=None)


def _take_pending_uses(key_id: int) -> int:
    """Remove and return the uses counted in the cache and not yet written. Uses counted
    meanwhile by other requests stay for the next write."""
    pending = int(cache.get(_pending_key(key_id)) or 0)
    if pending:
        try:
            cache.decr(_pending_key(key_id), pending)
        except ValueError:  # evicted in between: those uses are gone either way
            return 0
    return pending
