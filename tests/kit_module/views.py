from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tests.kit_module import services
from tests.kit_module.module import EDIT_NOTES, VIEW_NOTES
from tests.kit_module.selectors import note_get, note_list


@requires(VIEW_NOTES)
@require_safe
def note_index(request: WorkspaceRequest) -> HttpResponse:
    notes = note_list(actor=request.membership)
    template = "kit_module/_notes.html" if request.htmx else "kit_module/notes.html"  # type: ignore[attr-defined]
    return render(request, template, {"notes": notes})


@requires(EDIT_NOTES)
@require_POST
def note_rename(request: WorkspaceRequest, note_id: int) -> HttpResponse:
    note = note_get(actor=request.membership, note_id=note_id)
    try:
        services.note_rename(
            actor=request.membership, note=note, title=request.POST.get("title", "")
        )
    except ServiceError:
        return HttpResponse(status=403)
    return redirect("kit_module:list")
