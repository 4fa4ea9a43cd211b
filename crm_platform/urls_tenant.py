"""URLs of a workspace host. Every view here is covered by the isolation matrix
(tests/isolation/test_matrix.py) automatically: pages from this URLconf, API operations from
the OpenAPI schema.

CRM modules are not listed here: each ``ModuleConfig`` app's ``urls.py`` is included under its
``url_prefix`` and namespace, and its ``endpoints.py`` under ``/api/v1/<url_prefix>`` (D16).
"""

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from tenants import capabilities, views_mentions, views_style
from tenants import views_workspace as ws
from tenants.middleware import BILLING_PATH
from tenants.modules import module_configs


class WorkspaceSchemaView(SpectacularAPIView):
    """The OpenAPI schema of this workspace's API; every member may read it."""

    capability = capabilities.USE_WORKSPACE


def _module_patterns() -> tuple[list[URLPattern | URLResolver], list[URLPattern | URLResolver]]:
    pages: list[URLPattern | URLResolver] = []
    api: list[URLPattern | URLResolver] = []
    for config in module_configs():
        for prefix, urlconf in sorted(config.customer_urls.items()):
            pages.append(path(prefix, include(urlconf)))
        if _has_submodule(config.name, "urls"):
            pages.append(path(config.url_prefix, include(f"{config.name}.urls")))
        if _has_submodule(config.name, "endpoints"):
            api.append(path(config.url_prefix, include(f"{config.name}.endpoints")))
    return pages, api


def _has_submodule(package: str, name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(f"{package}.{name}") is not None


module_pages, module_api = _module_patterns()

api_v1 = [
    path("", include("tenants.endpoints")),
    *module_api,
]

urlpatterns = [
    path("handover/", ws.handover, name="handover"),
    path("signout/", ws.signout, name="signout"),
    path("", ws.home, name="home"),
    path("members/", ws.members, name="members"),
    path("members/invite/", ws.invite, name="invite"),
    path("members/mentions/", views_mentions.mention_suggestions, name="mention_suggestions"),
    path("members/export.csv", ws.members_export, name="members_export"),
    path("members/<int:member_id>/role/", ws.member_role, name="member_role"),
    path("members/<int:member_id>/deactivate/", ws.member_deactivate, name="member_deactivate"),
    path("members/<int:member_id>/reactivate/", ws.member_reactivate, name="member_reactivate"),
    path("members/<int:member_id>/make-owner/", ws.member_make_owner, name="member_make_owner"),
    path(
        "invitations/<int:invitation_id>/resend/",
        ws.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "invitations/<int:invitation_id>/revoke/",
        ws.invitation_revoke,
        name="invitation_revoke",
    ),
    path("roles/", ws.roles, name="roles"),
    path("settings/", ws.workspace_settings, name="settings"),
    path("audit/", ws.audit_log, name="audit_log"),
    path("style/", views_style.style_guide, name="style_guide"),
    # Billing is a platform app, not a CRM module: its pages sit here, under BILLING_PATH,
    # which a read-only workspace still lets through so that it can be paid for.
    path(BILLING_PATH.strip("/") + "/", include("billing.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", WorkspaceSchemaView.as_view(), name="api_schema"),
    *module_pages,
]
