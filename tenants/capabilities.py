"""The capability registry: which role may do what, on which plan, over which records.

The one place permissions are defined (D16, D17). The platform's own capabilities are
registered below; every CRM module registers its own in its ``module.py``, which is discovered
at start-up (``tenants.modules``). Views, services, the API, templates and sockets all ask the
same question, ``tenants.permissions.allows``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tenants.models import Plan, Tenant
from tenants.roles import ALL_ROLES, Role


class Scope(enum.IntEnum):
    """How many records a role's capability reaches; larger reaches more."""

    OWN = 1  # records the member owns
    TEAM = 2  # records owned by anyone in the member's team
    ALL = 3  # every record of the workspace

    @property
    def label(self) -> str:
        return str(_SCOPE_LABELS[self])


_SCOPE_LABELS: dict[Scope, str | Promise] = {
    Scope.OWN: _("own records"),
    Scope.TEAM: _("team's records"),
    Scope.ALL: _("all records"),
}

# Plans from cheapest to dearest. A trial runs on every feature so a company can try them all.
PLAN_ORDER: tuple[str, ...] = (Plan.STARTER, Plan.PROFESSIONAL, Plan.ENTERPRISE)
ALL_PLANS: frozenset[str] = frozenset(Plan.values)


def plans_from(lowest: str) -> frozenset[str]:
    """The plans that include a feature first sold on ``lowest``, and the trial."""
    return frozenset(PLAN_ORDER[PLAN_ORDER.index(lowest) :]) | {Plan.TRIAL}


@dataclass(frozen=True)
class Capability:
    code: str
    label: str | Promise
    module: str | Promise
    roles: frozenset[str]
    plans: frozenset[str] = ALL_PLANS
    # Whether the capability changes data: refused while the workspace is read-only.
    writes: bool = False
    # For capabilities about records: the reach of each role (a role without an entry has ALL).
    # None: the capability is not about owned records.
    scopes: Mapping[str, Scope] | None = field(default=None, hash=False, compare=False)
    # The narrower reach of some roles in a workspace whose admins restrict record visibility
    # (``Tenant.restrict_record_visibility``), e.g. Sales reps seeing only their own records.
    restricted_scopes: Mapping[str, Scope] | None = field(default=None, hash=False, compare=False)

    def scope_for(self, role: str, tenant: Tenant | None = None) -> Scope:
        """The role's reach; in ``tenant``, if given, as its visibility setting narrows it."""
        scope = Scope.ALL if self.scopes is None else self.scopes.get(role, Scope.ALL)
        if tenant is not None and tenant.restrict_record_visibility:
            scope = min(scope, self.restricted_scope_for(role))
        return scope

    def restricted_scope_for(self, role: str) -> Scope:
        """The role's reach in a workspace that restricts record visibility."""
        scope = Scope.ALL if self.scopes is None else self.scopes.get(role, Scope.ALL)
        if self.restricted_scopes is None:
            return scope
        return min(scope, self.restricted_scopes.get(role, Scope.ALL))

    @property
    def is_record_scoped(self) -> bool:
        return self.scopes is not None or self.restricted_scopes is not None


_REGISTRY: dict[str, Capability] = {}


def register(
    code: str,
    *,
    label: str | Promise,
    module: str | Promise,
    roles: Iterable[str],
    plans: Iterable[str] = ALL_PLANS,
    writes: bool = False,
    scopes: Mapping[str, Scope] | None = None,
    restricted_scopes: Mapping[str, Scope] | None = None,
) -> Capability:
    """Add a capability. Raises ValueError on an unknown role or plan, a scope for a role that
    does not hold the capability, or a code registered twice."""
    roles = frozenset(roles)
    plans = frozenset(plans)
    unknown = roles - ALL_ROLES
    if unknown:
        raise ValueError(f"Unknown roles for capability {code}: {sorted(unknown)}")
    if plans - ALL_PLANS:
        raise ValueError(f"Unknown plans for capability {code}: {sorted(plans - ALL_PLANS)}")
    if scopes is not None and set(scopes) - roles:
        raise ValueError(
            f"Scopes for roles without capability {code}: {sorted(set(scopes) - roles)}"
        )
    if restricted_scopes is not None and set(restricted_scopes) - roles:
        raise ValueError(
            f"Restricted scopes for roles without capability {code}: "
            f"{sorted(set(restricted_scopes) - roles)}"
        )
    if code in _REGISTRY:
        raise ValueError(f"Capability {code} is already registered")
    capability = Capability(
        code=code,
        label=label,
        module=module,
        roles=roles,
        plans=plans,
        writes=writes,
        scopes=dict(scopes) if scopes is not None else None,
        restricted_scopes=dict(restricted_scopes) if restricted_scopes is not None else None,
    )
    _REGISTRY[code] = capability
    return capability


def unregister(code: str) -> None:
    """Remove a capability (tests that plug in a module of their own clean up with this)."""
    _REGISTRY.pop(code, None)


def get(code: str) -> Capability:
    return _REGISTRY[code]


def all_capabilities() -> list[Capability]:
    return list(_REGISTRY.values())


def role_has(role: str, code: str) -> bool:
    """The role part of the question only; everything else asks ``permissions.allows``."""
    return role in _REGISTRY[code].roles


PLATFORM = _("Workspace")
EVERYONE = ALL_ROLES

USE_WORKSPACE = register(
    "platform.use_workspace",
    label=_("Open the workspace, see members and roles"),
    module=PLATFORM,
    roles=EVERYONE,
)
MANAGE_MEMBERS = register(
    "platform.manage_members",
    label=_("Invite members, change roles, deactivate and reactivate members"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
TRANSFER_OWNERSHIP = register(
    "platform.transfer_ownership",
    label=_("Make another member an Owner, transfer ownership"),
    module=PLATFORM,
    roles={Role.OWNER},
    writes=True,
)
MANAGE_BILLING = register(
    "platform.manage_billing",
    label=_("Manage the plan, seats and payment details"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
)
VIEW_AUDIT_LOG = register(
    "platform.view_audit_log",
    label=_("View the audit log"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
)
EXPORT_DATA = register(
    "platform.export_data",
    label=_("Export workspace data"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
)
MANAGE_SETTINGS = register(
    "platform.manage_settings",
    label=_("Change workspace settings (name, time zone, currency, security)"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)


@dataclass(frozen=True)
class MatrixRow:
    """One capability as the Roles page and docs/roles.md show it."""

    capability: Capability
    # Per role (in ``Role.values`` order): None = not allowed; else the reach, "" when the
    # capability is not about owned records or the role reaches all of them.
    cells: tuple[str | None, ...]
    # "" when every plan includes the capability.
    plans: str


def _cell(capability: Capability, role: str) -> str:
    scope = capability.scope_for(role)
    restricted = capability.restricted_scope_for(role)
    if restricted < scope:
        return str(
            _("%(usual)s; %(restricted)s when the workspace restricts record visibility")
            % {"usual": scope.label, "restricted": restricted.label}
        )
    return scope.label if scope is not Scope.ALL else ""


def matrix(among: Iterable[Capability] | None = None) -> list[MatrixRow]:
    rows = []
    for capability in all_capabilities() if among is None else among:
        cells = tuple(
            None if role not in capability.roles else _cell(capability, role)
            for role in Role.values
        )
        plans = ""
        if capability.plans != ALL_PLANS:
            plans = ", ".join(
                str(Plan(code).label) for code in PLAN_ORDER if code in capability.plans
            )
        rows.append(MatrixRow(capability=capability, cells=cells, plans=plans))
    return rows
