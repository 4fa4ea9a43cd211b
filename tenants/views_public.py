"""Views on the public host: trial signup, the workspace switcher, entering a workspace
(session hand-over) and accepting invitations."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

from allauth.core import ratelimit
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.i18n import set_language

from crm_platform.errors import ServiceError
from tenants import services
from tenants.access import client_ip
from tenants.currencies import visitor_currency
from tenants.forms import (
    AcceptNewAccountForm,
    PreferencesForm,
    SignupConfirmForm,
    SignupForm,
    WorkspaceCreateForm,
)
from tenants.handover import handover_token_mint
from tenants.hosts import safe_local_path, workspace_hostname, workspace_url
from tenants.models import Tenant, User
from tenants.policies import mfa_policy_unmet
from tenants.selectors import workspace_list_for_user, workspace_membership
from tenants.slugs import check_workspace_slug

AUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def _enter_url(tenant: Tenant, next_path: str = "/") -> str:
    return f"/w/{tenant.slug}/?{urlencode({'next': next_path})}"


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Provisioning is the most expensive thing an anonymous visitor can ask for.
        limited: HttpResponse | None = ratelimit.consume_or_429(request, action="signup")
        if limited is not None:
            return limited
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.signup_request(
                **form.cleaned_data,
                language=translation.get_language() or "",
                currency=_visitor_currency(request),
                ip_address=client_ip(request),
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            # The same answer for every address, with or without an account (ADR 0015).
            email = form.cleaned_data["email"]
            return render(request, "public/signup_check_email.html", {"email": email})
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "currency": _visitor_currency(request)}
    return render(request, "public/signup.html", context, status=status)


def _visitor_currency(request: HttpRequest) -> str:
    """The currency the visitor priced the plans in (the pricing page's link carries it, the
    form sends it back), else their region's."""
    return visitor_currency(
        accept_language=request.headers.get("Accept-Language", ""),
        requested=request.POST.get("currency", "") or request.GET.get("currency", ""),
    )


@require_http_methods(["GET", "HEAD", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: GET shows what will be created (a link preview or a mail scanner
    spends nothing); the button creates the account and workspace and signs the person in."""
    if request.method == "POST":
        limited: HttpResponse | None = ratelimit.consume_or_429(request, action="signup")
        if limited is not None:
            return limited
    try:
        pending = services.signup_from_link(token)
    except services.SignupLinkInvalid as error:
        return _signup_link_invalid(request, error)
    if request.user.is_authenticated:
        # Never switch a signed-in person to another account behind their back.
        return render(
            request, "public/signup_confirm_signed_in.html", {"pending": pending}, status=409
        )
    form = SignupConfirmForm(request.POST or None, initial={"slug": pending.slug})
    context = {"pending": pending, "form": form, "host": workspace_hostname(pending.slug)}
    if request.method == "POST" and form.is_valid():
        try:
            result = services.signup_confirm(
                token=token, slug=form.cleaned_data["slug"], ip_address=client_ip(request)
            )
        except services.SignupLinkInvalid as error:
            return _signup_link_invalid(request, error)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            login(request, result.user, backend=AUTH_BACKEND)
            return redirect(_enter_url(result.tenant))
    if request.method == "POST" or not _slug_still_free(pending.slug):
        # The address chosen at signup was taken since: ask for another.
        context["choose_slug"] = True
    status = 400 if request.method == "POST" else 200
    return render(request, "public/signup_confirm.html", context, status=status)


def _slug_still_free(slug: str) -> bool:
    try:
        services.check_slug_free(slug)
    except ServiceError:
        return False
    return True


def _signup_link_invalid(request: HttpRequest, error: ServiceError) -> HttpResponse:
    return render(
        request,
        "public/signup_link_invalid.html",
        {"error": error.message, "code": error.code},
        status=410,
    )


@require_safe
def signup_slug_check(request: HttpRequest) -> HttpResponse:
    """The slug field's help text, saying whether the typed address is valid and free."""
    try:
        slug = check_workspace_slug(request.GET.get("slug", ""))
        services.check_slug_free(slug)
    except ServiceError as error:
        context = {"ok": False, "message": error.message}
    else:
        context = {"ok": True, "host": workspace_hostname(slug)}
    return render(request, "public/_slug_status.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def workspace_new(request: HttpRequest) -> HttpResponse:
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = services.workspace_create(
                owner=request.user,  # type: ignore[arg-type]
                ip_address=client_ip(request),
                currency=_visitor_currency(request),
                **form.cleaned_data,
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            return redirect(_enter_url(tenant))
    status = 400 if request.method == "POST" else 200
    return render(request, "public/workspace_new.html", {"form": form}, status=status)


@require_safe
@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    memberships = workspace_list_for_user(user=request.user)  # type: ignore[arg-type]
    return render(request, "public/workspace_list.html", {"memberships": memberships})


@require_safe
@login_required
def workspace_enter(request: HttpRequest, slug: str) -> HttpResponse:
    """Hand the signed-in session over to the workspace host with a one-time token."""
    user: User = request.user  # type: ignore[assignment]
    membership = workspace_membership(user=user, slug=slug)
    tenant = membership.tenant
    if mfa_policy_unmet(membership):
        messages.warning(
            request,
            _(
                "%(workspace)s requires two-factor authentication for owners and admins. "
                "Set it up to continue."
            )
            % {"workspace": tenant.name},
        )
        return redirect("mfa_activate_totp")
    token = handover_token_mint(user=user, tenant=tenant)
    next_path = safe_local_path(request.GET.get("next"))
    query = urlencode({"token": token, "next": next_path})
    return HttpResponseRedirect(workspace_url(tenant.slug or "", f"/handover/?{query}"))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    initial = {"full_name": user.full_name, "language": user.language, "time_zone": user.time_zone}
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update_preferences(user=user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Preferences saved."))
            return redirect("preferences")
    status = 400 if request.method == "POST" else 200
    return render(request, "public/preferences.html", {"form": form}, status=status)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect), and for a signed-in person also their saved
    preference, which wins over the cookie and follows them to every workspace host."""
    response = set_language(request)
    if request.user.is_authenticated:
        with contextlib.suppress(ServiceError):  # an unknown language changes nothing
            services.account_set_language(
                user=request.user, language=request.POST.get("language", "")
            )
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_from_token(token)
    except services.InvitationInvalid as error:
        return render(
            request, "public/invitation_invalid.html", {"error": error.message}, status=410
        )

    user = request.user if request.user.is_authenticated else None
    if user is not None and user.email.lower() != invitation.email.lower():
        # Never switch a signed-in person to another account behind their back.
        return render(
            request,
            "public/invitation_other_account.html",
            {"invitation": invitation},
            status=409,
        )
    has_account = User.objects.filter(email__iexact=invitation.email).exists()
    form = AcceptNewAccountForm(request.POST or None) if not has_account else None
    context = {"invitation": invitation, "form": form, "has_account": has_account, "token": token}

    if request.method == "POST":
        try:
            if has_account:
                if user is None:
                    return redirect(f"/accounts/login/?{urlencode({'next': request.path})}")
                services.invitation_accept(
                    invitation=invitation,
                    user=user,
                    ip_address=client_ip(request),
                )
                joined = user
            elif form is not None and form.is_valid():
                membership = services.invitation_accept_new_account(
                    invitation=invitation, ip_address=client_ip(request), **form.cleaned_data
                )
                joined = membership.user
                login(request, joined, backend=AUTH_BACKEND)
            else:
                return render(request, "public/invitation_accept.html", context, status=400)
        except ServiceError as error:
            if form is not None:
                form.add_service_error(error)
            else:
                messages.error(request, error.message)
            return render(request, "public/invitation_accept.html", context, status=400)
        return redirect(_enter_url(invitation.tenant))
    return render(request, "public/invitation_accept.html", context)
