"""URLs of the public host: the site, accounts, the switcher, invitations, platform admin.

A CRM module that must answer on the public host (a webhook that names its workspace in the
path) has a ``urls_public.py``, included under its ``url_prefix``; none is listed here (D16).
"""

from importlib.util import find_spec

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView

from crm_platform import views
from tenants import views_public
from tenants.modules import module_configs


def _module_public_patterns() -> list[URLPattern | URLResolver]:
    return [
        path(config.url_prefix, include(f"{config.name}.urls_public"))
        for config in module_configs()
        if find_spec(f"{config.name}.urls_public") is not None
    ]


urlpatterns = [
    path("", views.landing, name="landing"),
    path("pricing/", views.pricing, name="pricing"),
    path("signup/", views_public.signup, name="signup"),
    path("signup/confirm/<str:token>/", views_public.signup_confirm, name="signup_confirm"),
    path("signup/slug-check/", views_public.signup_slug_check, name="signup_slug_check"),
    # Accounts are created with a workspace: allauth's own sign-up page leads to the trial form.
    path("accounts/signup/", RedirectView.as_view(pattern_name="signup", query_string=True)),
    path("accounts/", include("allauth.urls")),
    path("account/preferences/", views_public.preferences, name="preferences"),
    path("workspaces/", views_public.workspace_list, name="workspace_list"),
    path("workspaces/new/", views_public.workspace_new, name="workspace_new"),
    path("w/<slug:slug>/", views_public.workspace_enter, name="workspace_enter"),
    path("invitations/<str:token>/", views_public.invitation_accept, name="invitation_accept"),
    path("i18n/setlang/", views_public.language_set, name="set_language"),
    path("admin/", admin.site.urls),
    path("stripe/webhook/", include("billing.urls_public")),
    path("staff/", include("billing.urls_staff")),
    *_module_public_patterns(),
]
