"""URLs of a workspace host. Every view here is covered by the isolation matrix
(tests/isolation/test_matrix.py) automatically."""

from django.urls import path

from tenants import views_style
from tenants import views_workspace as ws

urlpatterns = [
    path("handover/", ws.handover, name="handover"),
    path("signout/", ws.signout, name="signout"),
    path("", ws.home, name="home"),
    path("members/", ws.members, name="members"),
    path("members/invite/", ws.invite, name="invite"),
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
]
