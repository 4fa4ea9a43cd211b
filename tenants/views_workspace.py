"""Views on a workspace host. MembershipMiddleware has already checked that the user is an
active member; each view declares the capability it needs with ``requires``."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from crm_platform.errors import ServiceError
from tenants import capabilities, services
from tenants.access import can, client_ip, requires
from tenants.adapters import sign_out_everywhere
from tenants.audit.selectors import audit_event_list
from tenants.forms import AuditFilterForm, InviteForm, MemberSearchForm, RoleForm, SettingsForm
from tenants.handover import handover_token_redeem
from tenants.hosts import public_url, safe_local_path
from tenants.http import WorkspaceRequest
from tenants.middleware import SESSION_WORKSPACE_KEY
from tenants.models import Membership
from tenants.modules import home_panels, settings_panels
from tenants.permissions import allows
from tenants.roles import Role
from tenants.selectors import (
    invitation_get,
    invitation_pending_list,
    member_get,
    member_list,
    seats_used_summary,
)

AUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"
MEMBERS_PER_PAGE = 50


def _membership(request: WorkspaceRequest) -> Membership:
    return request.membership


# GET only: a HEAD (a link preview, a prefetch) must not spend the one-time token.
@require_safe
def handover(request: WorkspaceRequest) -> HttpResponse:
    """Redeem a one-time token minted on the public host and start this host's session."""
    tenant = request.tenant
    user = handover_token_redeem(token=request.GET.get("token", ""), tenant=tenant)
    membership = (
        Membership.objects.filter(user=user, tenant=tenant, status=Membership.Status.ACTIVE).first()
        if user is not None
        else None
    )
    if user is None or membership is None:
        return render(
            request,
            "app/handover_failed.html",
            {"sign_in_url": public_url("/accounts/login/")},
            status=403,
        )
    signed_in = request.user
    if signed_in.is_authenticated and signed_in.pk != user.pk:
        # Never switch a browser already signed in here to another account behind its back:
        # a link minted by someone else must not sign this browser in as them.
        return render(
            request,
            "app/handover_other_account.html",
            {"workspace": tenant, "signed_in": signed_in},
            status=409,
        )
    login(request, user, backend=AUTH_BACKEND)
    request.session[SESSION_WORKSPACE_KEY] = tenant.pk
    membership.tenant = tenant
    services.member_record_sign_in(membership=membership, ip_address=client_ip(request))
    return HttpResponseRedirect(safe_local_path(request.GET.get("next")))


@require_POST
def signout(request: WorkspaceRequest) -> HttpResponse:
    if request.user.is_authenticated:
        sign_out_everywhere(user_id=request.user.pk)
    request.session.flush()
    return HttpResponseRedirect(public_url("/"))


@requires(capabilities.USE_WORKSPACE)
@require_safe
def home(request: WorkspaceRequest) -> HttpResponse:
    """The workspace's landing page: the modules' panels of the member's day (their tasks,
    deals, recent activity) above the workspace cards."""
    tenant = request.tenant
    member = request.membership
    panels = [
        {"template": panel.template, "panel": panel.context(member)}
        for panel in home_panels()
        if allows(member, panel.capability, reading=True)
    ]
    context = {"seats": seats_used_summary(tenant=tenant), "panels": panels}
    return render(request, "app/home.html", context)


@requires(capabilities.USE_WORKSPACE)
@require_safe
def roles(request: WorkspaceRequest) -> HttpResponse:
    columns = [_("Capability"), *(label for _value, label in Role.choices)]
    return render(
        request,
        "app/roles.html",
        {"roles": Role.choices, "matrix": capabilities.matrix(), "columns": columns},
    )


@requires(capabilities.USE_WORKSPACE)
@require_safe
def members(request: WorkspaceRequest) -> HttpResponse:
    return _render_members(request, InviteForm())


def _render_members(request: WorkspaceRequest, form: InviteForm, status: int = 200) -> HttpResponse:
    tenant = request.tenant
    search_form = MemberSearchForm(request.GET)
    search = search_form.cleaned_data["q"] if search_form.is_valid() else ""
    page = Paginator(member_list(tenant=tenant, search=search), MEMBERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "members": page,
        "page": page,
        "search": search,
        # Who was invited, at which address and role, is for those who manage members.
        "invitations": (
            invitation_pending_list(tenant=tenant)
            if can(request, capabilities.MANAGE_MEMBERS)
            else []
        ),
        "invite_form": form,
        "role_choices": Role.choices,
        "seats": seats_used_summary(tenant=tenant),
    }
    return render(request, "app/members.html", context, status=status)


@requires(capabilities.EXPORT_DATA)
@require_safe
def members_export(request: WorkspaceRequest) -> HttpResponse:
    text = services.members_export(actor=_membership(request), ip_address=client_ip(request))
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    filename = f"{request.tenant.slug}-members.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@requires(capabilities.MANAGE_MEMBERS)
@require_POST
def invite(request: WorkspaceRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                actor=_membership(request), ip_address=client_ip(request), **form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("members")
    return _render_members(request, form, status=400)


def _run(
    request: WorkspaceRequest, done: str, service: Callable[..., object], **kwargs: object
) -> HttpResponse:
    """Call a member-management service as the current member; report the outcome on the
    members page."""
    try:
        service(actor=_membership(request), ip_address=client_ip(request), **kwargs)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("members")


@requires(capabilities.MANAGE_MEMBERS)
@require_POST
def invitation_resend(request: WorkspaceRequest, invitation_id: int) -> HttpResponse:
    invitation = invitation_get(tenant=request.tenant, invitation_id=invitation_id)
    return _run(request, _("Invitation resent."), services.invitation_resend, invitation=invitation)


@requires(capabilities.MANAGE_MEMBERS)
@require_POST
def invitation_revoke(request: WorkspaceRequest, invitation_id: int) -> HttpResponse:
    invitation = invitation_get(tenant=request.tenant, invitation_id=invitation_id)
    return _run(
        request, _("Invitation revoked."), services.invitation_revoke, invitation=invitation
    )


@requires(capabilities.MANAGE_MEMBERS)
@require_POST
def member_role(request: WorkspaceRequest, member_id: int) -> HttpResponse:
    member = member_get(tenant=request.tenant, member_id=member_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("members")
    return _run(
        request,
        _("Role changed."),
        services.member_change_role,
        member=member,
        role=form.cleaned_data["role"],
    )


@requires(capabilities.MANAGE_MEMBERS)
@require_POST
def member_deactivate(request: WorkspaceRequest, member_id: int) -> HttpResponse:
    member = member_get(tenant=request.tenant, member_id=member_id)
    return _run(request, _("Member deactivated."), services.member_deactivate, member=member)


@requires(capabilities.MANAGE_MEMBERS)
@require_POST
def member_reactivate(request: WorkspaceRequest, member_id: int) -> HttpResponse:
    member = member_get(tenant=request.tenant, member_id=member_id)
    return _run(request, _("Member reactivated."), services.member_reactivate, member=member)


@requires(capabilities.TRANSFER_OWNERSHIP)
@require_POST
def member_make_owner(request: WorkspaceRequest, member_id: int) -> HttpResponse:
    member = member_get(tenant=request.tenant, member_id=member_id)
    return _run(request, _("Ownership transferred."), services.ownership_transfer, member=member)


@requires(capabilities.MANAGE_SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
def workspace_settings(request: WorkspaceRequest) -> HttpResponse:
    tenant = request.tenant
    initial = {
        "name": tenant.name,
        "time_zone": tenant.time_zone,
        "currency": tenant.currency,
        "require_mfa_for_admins": tenant.require_mfa_for_admins,
        "restrict_record_visibility": tenant.restrict_record_visibility,
    }
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.workspace_update_settings(
                actor=_membership(request), ip_address=client_ip(request), **form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            request.tenant = updated
            messages.success(request, _("Settings saved."))
            return redirect("settings")
    status = 400 if request.method == "POST" else 200
    member = request.membership
    panels = [
        {"template": panel.template, "panel": panel.context(member)}
        for panel in settings_panels()
        if allows(member, panel.capability, reading=True)
    ]
    return render(request, "app/settings.html", {"form": form, "panels": panels}, status=status)


@requires(capabilities.VIEW_AUDIT_LOG)
@require_safe
def audit_log(request: WorkspaceRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_event_list(**{k: v for k, v in filters.items() if v})
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "app/audit_log.html", {"form": form, "page": page})
