from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from crm_modules.integrations import services
from crm_modules.integrations.forms import ApiKeyForm
from crm_modules.integrations.models import ApiKey
from crm_modules.integrations.module import MANAGE_API_KEYS
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest


@requires(MANAGE_API_KEYS)
@require_http_methods(["GET", "HEAD", "POST"])
def api_keys(request: WorkspaceRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            new_key = services.api_key_create(
                actor=request.membership,
                name=form.cleaned_data["name"],
                read_only=form.cleaned_data["read_only"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            form = ApiKeyForm()
    keys = list(ApiKey.objects.order_by("-id")[:200])
    uses = services.api_key_uses(keys)
    status = 400 if request.method == "POST" and new_key is None else 200
    context = {"form": form, "rows": [(key, uses[key.pk]) for key in keys], "new_key": new_key}
    return render(request, "integrations/api_keys.html", context, status=status)


@requires(MANAGE_API_KEYS)
@require_POST
def api_key_revoke(request: WorkspaceRequest, key_id: int) -> HttpResponse:
    key = ApiKey.objects.filter(pk=key_id).first()
    if key is None:
        raise Http404("No such key")
    services.api_key_revoke(actor=request.membership, key=key)
    return redirect("integrations:api_keys")
