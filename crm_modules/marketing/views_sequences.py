"""Sequence pages: the list with each sequence's figures, the step editor, a sequence with its
enrolments (state and exit reason), enrolling (one contact from its page, a static list or a
segment), pausing, resuming and removing an enrolment; and the open pixel and click redirect
of sequence emails, which recipients open without being members (their signed token is the
only key)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.marketing.campaigns import content, events
from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep, StepRun
from crm_modules.marketing.module import ENROL_SEQUENCES, MANAGE_SEQUENCES, VIEW_SEQUENCES
from crm_modules.marketing.selectors import segment_get, segment_list
from crm_modules.marketing.sequences import selectors, services, tracking
from crm_modules.marketing.sequences.steps import MAX_STEPS, StepDraft
from crm_modules.marketing.views_campaigns import PIXEL, _schema
from crm_modules.sales.api import LifecycleStage
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows

STEP_FIELDS = (
    "kind",
    "delay_amount",
    "delay_unit",
    "condition",
    "condition_value",
    "subject",
    "body",
    "task_title",
)
EXAMPLE_BODY = '<p>Hello {{ first_name | default:"there" }},</p><p></p>'


@requires(VIEW_SEQUENCES)
@require_safe
def sequences(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    rows = list(selectors.sequence_list(actor=actor)[:200])
    stats = selectors.sequence_stats([row.pk for row in rows])
    context = {
        "rows": [(row, stats[row.pk]) for row in rows],
        "can_manage": allows(actor, MANAGE_SEQUENCES),
    }
    return render(request, "marketing/sequences/list.html", context)


def _posted_steps(request: WorkspaceRequest) -> list[dict[str, str]]:
    slots = []
    for n in range(1, MAX_STEPS + 2):
        values = {name: request.POST.get(f"step-{n}-{name}", "") for name in STEP_FIELDS}
        slots.append(values)
    return slots


def _drafts(slots: list[dict[str, str]]) -> list[StepDraft]:
    """The slots the member filled in (a kind chosen), in order."""
    return [
        StepDraft(
            kind=slot["kind"],
            delay_amount=slot["delay_amount"],
            delay_unit=slot["delay_unit"] or SequenceStep.DelayUnit.DAYS,
            condition=slot["condition"] or SequenceStep.Condition.ALWAYS,
            condition_value=slot["condition_value"],
            subject=slot["subject"],
            body=slot["body"],
            task_title=slot["task_title"],
        )
        for slot in slots
        if slot["kind"]
    ]


def _slots_of(steps: list[SequenceStep]) -> list[dict[str, str]]:
    slots = [
        {
            "kind": step.kind,
            "delay_amount": str(step.delay_amount),
            "delay_unit": step.delay_unit,
            "condition": step.condition,
            "condition_value": step.condition_value,
            "subject": step.subject,
            "body": step.body,
            "task_title": step.task_title,
        }
        for step in steps
    ]
    return slots


def _editor(request: WorkspaceRequest, sequence: Sequence | None) -> HttpResponse:
    actor = request.membership
    status = 200
    error: ServiceError | None = None
    name = sequence.name if sequence else ""
    from_name = sequence.from_name if sequence else ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        from_name = request.POST.get("from_name", "")
        posted = _posted_steps(request)
        filled = [slot for slot in posted if slot["kind"]]
        try:
            drafts = _drafts(posted)
            if sequence is None:
                sequence = services.sequence_create(
                    actor=actor, name=name, steps=drafts, from_name=from_name
                )
            else:
                sequence = services.sequence_update(
                    actor=actor, sequence=sequence, name=name, steps=drafts, from_name=from_name
                )
        except ServiceError as exc:
            error = exc
            status = 400
            slots = filled
        else:
            messages.success(request, _("Sequence saved."))
            return redirect("marketing:sequence_detail", sequence_id=sequence.pk)
    else:
        slots = (
            _slots_of(selectors.sequence_steps(sequence))
            if sequence
            else [
                {
                    "kind": SequenceStep.Kind.EMAIL,
                    "delay_amount": "0",
                    "delay_unit": SequenceStep.DelayUnit.HOURS,
                    "condition": SequenceStep.Condition.ALWAYS,
                    "body": EXAMPLE_BODY,
                }
            ]
        )
    # One empty slot to add a step, while there is room.
    if len(slots) < MAX_STEPS:
        slots = [*slots, {}]
    error_step = -1
    error_field = ""
    if error is not None and error.field:
        found = re.match(r"steps\[(\d+)\]\.(\w+)", error.field)
        if found:
            error_step, error_field = int(found.group(1)), found.group(2)
    context = {
        "sequence": sequence,
        "name": name,
        "from_name": from_name,
        "slots": slots,
        "error": error,
        "error_step": error_step,
        "error_field": error_field,
        "kinds": SequenceStep.Kind.choices,
        "units": SequenceStep.DelayUnit.choices,
        "conditions": SequenceStep.Condition.choices,
        "stages": LifecycleStage.choices,
        "placeholder_help": _(
            "Placeholders: {{ first_name }}, "
            '{{ first_name | default:"there" }}; fields: %(fields)s.'
        )
        % {"fields": ", ".join(content.PLACEHOLDER_FIELDS)},
    }
    return render(request, "marketing/sequences/form.html", context, status=status)


@requires(MANAGE_SEQUENCES)
@require_http_methods(["GET", "HEAD", "POST"])
def sequence_new(request: WorkspaceRequest) -> HttpResponse:
    return _editor(request, None)


@requires(MANAGE_SEQUENCES)
@require_http_methods(["GET", "HEAD", "POST"])
def sequence_edit(request: WorkspaceRequest, sequence_id: int) -> HttpResponse:
    sequence = selectors.sequence_get(actor=request.membership, sequence_id=sequence_id)
    return _editor(request, sequence)


@requires(VIEW_SEQUENCES)
@require_safe
def sequence_detail(request: WorkspaceRequest, sequence_id: int) -> HttpResponse:
    actor = request.membership
    sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
    state = request.GET.get("state", "")
    page = selectors.enrolment_page(
        actor=actor, sequence=sequence, state=state, after=request.GET.get("after", "")
    )
    may_enrol = allows(actor, ENROL_SEQUENCES)
    context: dict[str, Any] = {
        "sequence": sequence,
        "steps": selectors.sequence_steps(sequence),
        "stats": selectors.sequence_stats([sequence.pk])[sequence.pk],
        "page": page,
        "state": state,
        "states": Enrolment.State.choices,
        "can_manage": allows(actor, MANAGE_SEQUENCES),
        "can_enrol": may_enrol,
        "segments": list(segment_list(actor=actor).values_list("pk", "name", "kind")[:500])
        if may_enrol
        else [],
    }
    if request.headers.get("HX-Request"):
        return render(request, "marketing/sequences/_enrolments.html", context)
    return render(request, "marketing/sequences/detail.html", context)


@requires(MANAGE_SEQUENCES)
@require_POST
def sequence_activate(request: WorkspaceRequest, sequence_id: int) -> HttpResponse:
    sequence = selectors.sequence_get(actor=request.membership, sequence_id=sequence_id)
    try:
        services.sequence_activate(actor=request.membership, sequence=sequence)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The sequence takes enrolments now."))
    return redirect("marketing:sequence_detail", sequence_id=sequence.pk)


def _back(request: WorkspaceRequest, sequence: Sequence) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect("marketing:sequence_detail", sequence_id=sequence.pk)


@requires(ENROL_SEQUENCES)
@require_POST
def sequence_enrol(request: WorkspaceRequest, sequence_id: int) -> HttpResponse:
    """Enrol one contact (``contact``, from its page) or a static list or segment
    (``segment``)."""
    actor = request.membership
    sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
    try:
        if request.POST.get("contact"):
            services.enrol_contact(
                actor=actor, sequence=sequence, contact_id=request.POST["contact"]
            )
            messages.success(request, _("Enrolled in %(name)s.") % {"name": sequence.name})
        else:
            raw = request.POST.get("segment", "")
            if not raw.isdigit():
                raise ServiceError(_("Choose a list or a segment."), field="segment")
            segment = segment_get(actor=actor, segment_id=int(raw))
            result = services.enrol_segment(actor=actor, sequence=sequence, segment=segment)
            messages.success(
                request,
                ngettext(
                    "%(count)d contact enrolled.",
                    "%(count)d contacts enrolled.",
                    len(result.enrolled),
                )
                % {"count": len(result.enrolled)},
            )
            if result.refused:
                messages.warning(
                    request,
                    ngettext(
                        "%(count)d contact refused: %(first)s",
                        "%(count)d contacts refused, for example: %(first)s",
                        len(result.refused),
                    )
                    % {"count": len(result.refused), "first": result.refused[0][1]},
                )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return _back(request, sequence)


@requires(ENROL_SEQUENCES)
@require_POST
def contact_enrol(request: WorkspaceRequest) -> HttpResponse:
    """From a contact's page: the contact and the chosen sequence."""
    actor = request.membership
    if not request.POST.get("sequence"):
        messages.error(request, _("Choose a sequence."))
        return redirect("marketing:sequences")
    sequence = selectors.sequence_get(actor=actor, sequence_id=request.POST.get("sequence"))
    try:
        services.enrol_contact(
            actor=actor, sequence=sequence, contact_id=request.POST.get("contact")
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Enrolled in %(name)s.") % {"name": sequence.name})
    return _back(request, sequence)


ENROLMENT_ACTIONS: dict[str, Callable[..., Enrolment]] = {
    "pause": services.enrolment_pause,
    "resume": services.enrolment_resume,
    "remove": services.enrolment_remove,
}


@requires(ENROL_SEQUENCES)
@require_POST
def enrolment_action(
    request: WorkspaceRequest, sequence_id: int, enrolment_id: int, action: str
) -> HttpResponse:
    actor = request.membership
    sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
    enrolment = selectors.enrolment_get(actor=actor, sequence=sequence, enrolment_id=enrolment_id)
    act = ENROLMENT_ACTIONS.get(action)
    if act is None:
        raise Http404
    try:
        act(actor=actor, enrolment=enrolment)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return _back(request, sequence)


# --- tracking: open to anyone holding a signed token ------------------------------------------


def _sent_run(run_id: int | None) -> StepRun | None:
    if not run_id:
        return None
    return (
        StepRun.objects.select_related("step").filter(pk=run_id, status=StepRun.Status.SENT).first()
    )


@never_cache
@require_safe
def sequence_open(request: WorkspaceRequest, token: str) -> HttpResponse:
    run = _sent_run(tracking.open_read(_schema(), token))
    if run is None:
        raise Http404
    agent = request.headers.get("User-Agent", "")
    if request.method == "GET" and not events.SCANNER_AGENTS.search(agent):
        tracking.run_opened(run, at=timezone.now())
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_safe
def sequence_click(request: WorkspaceRequest, token: str) -> HttpResponse:
    found = tracking.click_read(_schema(), token)
    if found is None:
        raise Http404
    run = _sent_run(found[0])
    if run is None or not 0 <= found[1] < len(run.step.links):
        raise Http404
    url = run.step.links[found[1]]
    reason = events.scanner_reason(
        method=request.method or "GET",
        user_agent=request.headers.get("User-Agent", ""),
        sent_at=run.at,
        now=timezone.now(),
    )
    if not reason:
        tracking.run_clicked(run, at=timezone.now())
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response
