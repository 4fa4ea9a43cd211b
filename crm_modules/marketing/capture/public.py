"""The views visitors who are not members reach (under the open path /marketing/f/): the
hosted form page, the description the embed script renders a form from, and the endpoint both
post to. No session and no cookie is involved, so CSRF protection is replaced by the form's own
signed token; CORS is granted to these views alone, and only to the sites the form allows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crm_modules.marketing.capture import guard
from crm_modules.marketing.capture.definition import load_fields
from crm_modules.marketing.capture.selectors import form_public
from crm_modules.marketing.capture.submit import (
    FormErrors,
    check_answers,
    clean_touch,
    form_submit,
)
from crm_modules.marketing.models_capture import Form
from crm_modules.sales.api import TOUCH_KEYS, Channel
from crm_platform.errors import ServiceError
from tenants.access import client_ip

UTM_KEYS = TOUCH_KEYS[:5]


def _own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _origin_allowed(form: Form, request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == _own_origin(request) or not form.allowed_origins:
        return True
    return origin in form.allowed_origins


def _cors(response: HttpResponse, form: Form | None, request: HttpRequest) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin and (form is None or _origin_allowed(form, request)):
        # Never with credentials: the form endpoint reads no cookie.
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _consent_labels(form: Form) -> list[tuple[str, str]]:
    labels = dict(Channel.choices)
    return [(code, str(labels[code])) for code in form.consent_channels]


def _page_context(form: Form, request: HttpRequest, **extra: Any) -> dict[str, Any]:
    touch = {key: request.GET.get(key, "")[:150] for key in UTM_KEYS}
    touch["referrer"] = request.headers.get("Referer", "")[:500]
    touch["landing_page"] = request.build_absolute_uri()[:500]
    return {
        "form": form,
        "fields": load_fields(form.fields),
        "consents": _consent_labels(form),
        "token": guard.token_mint(form),
        "touch": touch,
        "honeypot": guard.HONEYPOT,
        "action": reverse("marketing:form_submit", args=[form.public_id]),
        "values": {},
        "errors": {},
        **extra,
    }


@require_http_methods(["GET", "HEAD"])
def form_page(request: HttpRequest, public_id: UUID) -> HttpResponse:
    form = form_public(public_id)
    return render(request, "marketing/public_form.html", _page_context(form, request))


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def form_embed(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """What the embed script needs to draw the form, with a fresh token."""
    form = form_public(public_id)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), form, request)
    if not _origin_allowed(form, request):
        return _cors(_json_error(403, _("This form may not be shown on this site.")), form, request)
    body = {
        "action": request.build_absolute_uri(
            reverse("marketing:form_submit", args=[form.public_id])
        ),
        "token": guard.token_mint(form),
        "honeypot": guard.HONEYPOT,
        "fields": [
            {**f.as_json(), "type": f.input_type, "max_length": f.max_length}
            for f in load_fields(form.fields)
        ],
        "consents": [{"channel": c, "label": label} for c, label in _consent_labels(form)],
        "consent_text": _("Yes, you may contact me by %(channel)s."),
        "submit": _("Send"),
        "success": form.success_message or _("Thank you! We received your answers."),
    }
    return _cors(JsonResponse(body), form, request)


def _json_error(status: int, message: str, errors: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"ok": False, "message": message, "errors": errors or {}}, status=status)


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def form_submit_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    form = form_public(public_id)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), form, request)
    wants_json = "application/json" in request.headers.get("Accept", "")

    def refuse(status: int, message: str, errors: dict[str, str] | None = None) -> HttpResponse:
        if wants_json:
            return _cors(_json_error(status, message, errors), form, request)
        context = _page_context(
            form, request, values=request.POST, errors=errors or {}, message=message
        )
        context["touch"] = {key: request.POST.get(key, "") for key in TOUCH_KEYS[:7]}
        return render(request, "marketing/public_form.html", context, status=status)

    if not _origin_allowed(form, request):
        return refuse(403, _("This form may not be used from this site."))
    if request.tenant.is_read_only:  # type: ignore[attr-defined]
        return refuse(503, _("This form cannot take answers right now. Please try again later."))
    if not guard.rate_allowed(form, client_ip(request) or ""):
        return refuse(
            429,
            _("Too many answers were sent from here in a short time. Try again in a few minutes."),
        )
    if not guard.token_valid(form, request.POST.get("token", "")):
        return refuse(400, _("This form has expired. Reload the page and send it again."))
    success = form.success_message or _("Thank you! We received your answers.")
    if request.POST.get(guard.HONEYPOT):
        # A bot: it is told what a person is told, and nothing is kept but the count.
        Form.objects.filter(pk=form.pk).update(spam_count=F("spam_count") + 1)
        return _accepted(request, form, success, wants_json)
    try:
        answers = check_answers(form, request.POST)
        consents = [c for c in form.consent_channels if request.POST.get(f"consent_{c}")]
        form_submit(
            form=form,
            answers=answers,
            touch=clean_touch(request.POST),
            consents=consents,
            ip_address=client_ip(request),
        )
    except FormErrors as exc:
        return refuse(400, _("Please correct the answers marked below."), exc.errors)
    except ServiceError as exc:
        return refuse(503 if exc.code == "unavailable" else 400, exc.message)
    return _accepted(request, form, success, wants_json)


def _accepted(request: HttpRequest, form: Form, message: str, wants_json: bool) -> HttpResponse:
    if wants_json:
        return _cors(JsonResponse({"ok": True, "message": message}), form, request)
    return render(request, "marketing/public_form_done.html", {"form": form, "message": message})
