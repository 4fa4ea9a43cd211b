"""The @mention picker's suggestions: the active members of the workspace whose name or email
matches what follows the ``@`` (kit/mention_field.html asks for them as the member types)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tenants import capabilities
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.selectors import member_suggestions

SUGGESTIONS = 8


@requires(capabilities.USE_WORKSPACE)
@require_safe
def mention_suggestions(request: WorkspaceRequest) -> HttpResponse:
    """An HTMX fragment: one option per member, the best matches first."""
    search = " ".join(request.GET.get("q", "").split())[:100]
    members = member_suggestions(tenant=request.tenant, search=search, limit=SUGGESTIONS)
    listbox = request.GET.get("listbox", "")
    return render(
        request,
        "kit/mention_options.html",
        {
            "members": members,
            # The id the options are named after (the field's listbox), letters only.
            "prefix": listbox if listbox.replace("-", "").isalnum() else "mention",
        },
    )
