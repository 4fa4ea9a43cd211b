"""Campaign pages: the list, the editor (create and edit a draft, A/B variants), the report
(counts, rates, chart, recipients; refreshed live), preview as a contact, test send, send or
schedule, cancel; and the tracking pixel and click redirect that recipients open without being
members (each authenticated by its signed token alone)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any, cast

from django import forms
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.marketing.campaigns import content, events, selectors, services, tokens
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.models import Campaign, CampaignRecipient, CampaignVariant
from crm_modules.marketing.module import MANAGE_CAMPAIGNS, SEND_CAMPAIGNS, VIEW_CAMPAIGNS
from crm_modules.marketing.selectors import segment_list
from crm_modules.sales.api import contact_get
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows

LETTERS = services.LETTERS
EXAMPLE_BLOCKS = json.dumps(
    [
        {"type": "heading", "text": 'Hello {{ first_name | default:"there" }}'},
        {"type": "text", "text": "Our spring offer is here."},
        {"type": "button", "text": "See the offer", "href": "https://example.com/offer"},
    ],
    ensure_ascii=False,
    indent=1,
)


class CampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, strip=False)
    segment = forms.TypedChoiceField(label=gettext_lazy("Segment"), coerce=int, required=False)
    from_name = forms.CharField(label=gettext_lazy("Sender name"), max_length=100, required=False)
    ab_fraction = forms.DecimalField(
        label=gettext_lazy("A/B test share"),
        required=False,
        initial="0.2",
        help_text=gettext_lazy(
            "With more than one variant: the share of recipients in the test, 0.05 to 1."
        ),
    )
    ab_min_sample = forms.IntegerField(
        label=gettext_lazy("Minimum sample per variant"), initial=100
    )
    ab_wait_minutes = forms.IntegerField(
        label=gettext_lazy("Wait before picking the winner (minutes)"), initial=240
    )
    ab_metric = forms.ChoiceField(
        label=gettext_lazy("Winner by"),
        choices=[("opens", gettext_lazy("Opens")), ("clicks", gettext_lazy("Clicks"))],
    )

    def __init__(self, *args: Any, segments: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["segment"]).choices = [("", "—"), *segments]
        for letter in LETTERS:
            low = letter.lower()
            first = letter == "A"
            self.fields[f"subject_{low}"] = forms.CharField(
                label=_("Subject %(letter)s") % {"letter": letter},
                max_length=200,
                required=first,
                strip=False,
                help_text=_(
                    "Placeholders: {{ first_name }}, "
                    '{{ first_name | default:"there" }}; fields: %(fields)s.'
                )
                % {"fields": ", ".join(content.PLACEHOLDER_FIELDS)}
                if first
                else _("Fill in to test a variant %(letter)s.") % {"letter": letter},
            )
            self.fields[f"preheader_{low}"] = forms.CharField(
                label=_("Preheader %(letter)s") % {"letter": letter}, max_length=200, required=False
            )
            self.fields[f"mode_{low}"] = forms.ChoiceField(
                label=_("Content %(letter)s") % {"letter": letter},
                choices=CampaignVariant.Mode.choices,
            )
            self.fields[f"blocks_{low}"] = forms.CharField(
                label=_("Blocks %(letter)s (JSON)") % {"letter": letter},
                required=False,
                strip=False,
                widget=forms.Textarea(
                    attrs={"rows": 8, "spellcheck": "false", "data-block-editor": low}
                ),
                help_text=_("A list of blocks: heading, text, image, button, divider.")
                if first
                else "",
            )
            self.fields[f"html_{low}"] = forms.CharField(
                label=_("HTML %(letter)s") % {"letter": letter},
                required=False,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
            )

    def draft(self) -> CampaignDraft:
        data = self.cleaned_data
        variants = []
        for letter in LETTERS:
            low = letter.lower()
            if letter != "A" and not (data.get(f"subject_{low}") or "").strip():
                continue
            raw = data.get(f"blocks_{low}") or ""
            blocks: Any = None
            if data[f"mode_{low}"] == CampaignVariant.Mode.BLOCKS:
                try:
                    blocks = json.loads(raw) if raw.strip() else []
                except ValueError:
                    raise ServiceError(
                        _("The blocks are not valid JSON."), field=f"blocks_{low}"
                    ) from None
            variants.append(
                VariantDraft(
                    subject=data[f"subject_{low}"],
                    preheader=data.get(f"preheader_{low}") or "",
                    mode=data[f"mode_{low}"],
                    blocks=blocks,
                    html=data.get(f"html_{low}") or "",
                )
            )
        return CampaignDraft(
            name=data["name"],
            segment_id=data.get("segment") or None,
            variants=variants,
            from_name=data.get("from_name") or "",
            ab_fraction=data.get("ab_fraction") or 0,
            ab_min_sample=data["ab_min_sample"],
            ab_wait_minutes=data["ab_wait_minutes"],
            ab_metric=data["ab_metric"],
        )

    def add_service_error(self, exc: ServiceError, variants: int) -> None:
        """Put a service error next to its field; a variant's error names the variant's
        field, a block's error names the block (``blocks[2].text``)."""
        path = exc.field or ""
        letter = "a"
        found = re.match(r"variants\[(\d)\]\.(.*)", path)
        if found:
            letter, path = LETTERS[int(found.group(1))].lower(), found.group(2)
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        if head in ("subject", "preheader", "mode", "blocks", "html"):
            target = f"{head}_{letter}"
            message = exc.message if path == head else f"{path}: {exc.message}"
        elif path in self.fields:
            target, message = path, exc.message
        else:
            target, message = None, exc.message
        self.add_error(target, message)


def _segments(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return list(segment_list(actor=request.membership).values_list("pk", "name")[:500])


def _initial(campaign: Campaign) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": campaign.name,
        "segment": campaign.segment_id,
        "from_name": campaign.from_name,
        "ab_fraction": campaign.ab_fraction,
        "ab_min_sample": campaign.ab_min_sample,
        "ab_wait_minutes": campaign.ab_wait_minutes,
        "ab_metric": campaign.ab_metric,
    }
    for variant in CampaignVariant.objects.filter(campaign=campaign):
        low = variant.letter.lower()
        initial[f"subject_{low}"] = variant.subject
        initial[f"preheader_{low}"] = variant.preheader
        initial[f"mode_{low}"] = variant.mode
        initial[f"blocks_{low}"] = json.dumps(variant.blocks, ensure_ascii=False, indent=1)
        initial[f"html_{low}"] = variant.html
    return initial


@requires(VIEW_CAMPAIGNS)
@require_safe
def campaigns(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    context = {
        "page": selectors.campaign_page(actor=actor, after=request.GET.get("after", "")),
        "can_manage": allows(actor, MANAGE_CAMPAIGNS),
    }
    return render(request, "marketing/campaigns.html", context)


def _editor(request: WorkspaceRequest, campaign: Campaign | None) -> HttpResponse:
    actor = request.membership
    segments = _segments(request)
    status = 200
    if request.method == "POST":
        form = CampaignForm(request.POST, segments=segments)
        if form.is_valid():
            try:
                draft = form.draft()
                if campaign is None:
                    campaign = services.campaign_create(actor=actor, draft=draft)
                else:
                    campaign = services.campaign_update(actor=actor, campaign=campaign, draft=draft)
            except ServiceError as exc:
                form.add_service_error(exc, len(LETTERS))
            else:
                return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
        status = 400
    else:
        initial = _initial(campaign) if campaign else {"blocks_a": EXAMPLE_BLOCKS}
        form = CampaignForm(initial=initial, segments=segments)
    context = {"form": form, "campaign": campaign}
    return render(request, "marketing/campaign_form.html", context, status=status)


@requires(MANAGE_CAMPAIGNS)
@require_http_methods(["GET", "HEAD", "POST"])
def campaign_new(request: WorkspaceRequest) -> HttpResponse:
    return _editor(request, None)


@requires(MANAGE_CAMPAIGNS)
@require_http_methods(["GET", "HEAD", "POST"])
def campaign_edit(request: WorkspaceRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=request.membership, campaign_id=campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
    return _editor(request, campaign)


def _report_context(campaign: Campaign) -> dict[str, Any]:
    report = selectors.campaign_report(campaign=campaign)
    keys = ["delivered", "opened", "clicked", "bounced", "unsubscribed", "complained"]
    labels = [
        _("Delivered"),
        _("Opened"),
        _("Clicked"),
        _("Bounced"),
        _("Unsubscribed"),
        _("Complained"),
    ]
    rows = [
        [label, report.counts[key], f"{report.rates[key]} %" if key in report.rates else "—"]
        for key, label in zip(keys, labels, strict=True)
    ]
    return {
        "campaign": campaign,
        "report": report,
        "figure": selectors.report_figure(report),
        "chart_rows": rows,
        "chart_columns": [_("Event"), _("Recipients"), _("Rate")],
    }


@requires(VIEW_CAMPAIGNS)
@require_safe
def campaign_detail(request: WorkspaceRequest, campaign_id: int) -> HttpResponse:
    actor = request.membership
    campaign = selectors.campaign_get(actor=actor, campaign_id=campaign_id)
    context = _report_context(campaign)
    if request.headers.get("HX-Request"):
        return render(request, "marketing/_campaign_report.html", context)
    context.update(
        {
            "variants": list(CampaignVariant.objects.filter(campaign=campaign)),
            "recipients": selectors.recipients_page(
                campaign=campaign, after=request.GET.get("after", "")
            ),
            "can_manage": allows(actor, MANAGE_CAMPAIGNS),
            "can_send": allows(actor, SEND_CAMPAIGNS),
            "now": timezone.localtime(),
        }
    )
    return render(request, "marketing/campaign_detail.html", context)


@requires(VIEW_CAMPAIGNS)
@require_safe
def campaign_preview(request: WorkspaceRequest, campaign_id: int) -> HttpResponse:
    """The message as a chosen contact would get it (links untracked, no pixel); raw HTML is
    shown only after nh3 has sanitised it."""
    actor = request.membership
    campaign = selectors.campaign_get(actor=actor, campaign_id=campaign_id)
    variants = list(CampaignVariant.objects.filter(campaign=campaign))
    letter = request.GET.get("variant", "A")
    variant = next((v for v in variants if v.letter == letter), variants[0] if variants else None)
    if variant is None:
        raise Http404
    contact = None
    raw_contact = request.GET.get("contact", "")
    if raw_contact:
        contact = contact_get(actor=actor, contact_id=raw_contact)
    values = content.contact_values(contact) if contact else {}
    built = content.build(
        subject=variant.subject,
        preheader=variant.preheader,
        mode=variant.mode,
        blocks=variant.blocks,
        html=variant.html,
    )
    rendered = content.render(built, values, link_url=lambda i: built.links[i])
    context = {
        "campaign": campaign,
        "variants": variants,
        "variant": variant,
        "contact": contact,
        "rendered": rendered,
        "can_manage": allows(actor, MANAGE_CAMPAIGNS),
    }
    return render(request, "marketing/campaign_preview.html", context)


@requires(MANAGE_CAMPAIGNS)
@require_POST
def campaign_test_send(request: WorkspaceRequest, campaign_id: int) -> HttpResponse:
    actor = request.membership
    campaign = selectors.campaign_get(actor=actor, campaign_id=campaign_id)
    raw_contact = request.POST.get("contact", "")
    contact = contact_get(actor=actor, contact_id=raw_contact) if raw_contact else None
    from django.contrib import messages

    count = services.campaign_test_send(actor=actor, campaign=campaign, contact=contact)
    messages.success(
        request,
        _("%(count)d test email(s) sent to %(email)s.")
        % {"count": count, "email": actor.user.email},
    )
    return redirect("marketing:campaign_detail", campaign_id=campaign.pk)


class SendForm(forms.Form):
    send_at = forms.DateTimeField(label=gettext_lazy("Send at"), required=False)
    local_time = forms.BooleanField(
        label=gettext_lazy("At this time in each recipient's time zone"), required=False
    )


@requires(SEND_CAMPAIGNS)
@require_POST
def campaign_send(request: WorkspaceRequest, campaign_id: int) -> HttpResponse:
    actor = request.membership
    campaign = selectors.campaign_get(actor=actor, campaign_id=campaign_id)
    form = SendForm(request.POST)
    from django.contrib import messages

    if form.is_valid():
        try:
            services.campaign_send(
                actor=actor,
                campaign=campaign,
                send_at=form.cleaned_data["send_at"],
                local_time=form.cleaned_data["local_time"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
        messages.success(request, _("The campaign is on its way."))
        return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
    messages.error(request, _("Give the time to send as YYYY-MM-DD HH:MM."))
    return redirect("marketing:campaign_detail", campaign_id=campaign.pk)


@requires(SEND_CAMPAIGNS)
@require_POST
def campaign_cancel(request: WorkspaceRequest, campaign_id: int) -> HttpResponse:
    actor = request.membership
    campaign = selectors.campaign_get(actor=actor, campaign_id=campaign_id)
    from django.contrib import messages

    try:
        services.campaign_cancel(actor=actor, campaign=campaign)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The campaign was canceled."))
    return redirect("marketing:campaign_detail", campaign_id=campaign.pk)


# --- tracking: open to anyone holding a signed token ------------------------------------------

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _schema() -> str:
    return str(connection.schema_name)  # type: ignore[attr-defined]


@never_cache
@require_safe
def track_open(request: WorkspaceRequest, token: str) -> HttpResponse:
    recipient_id = tokens.open_read(_schema(), token)
    recipient = (
        CampaignRecipient.objects.filter(
            pk=recipient_id, status=CampaignRecipient.Status.SENT
        ).first()
        if recipient_id
        else None
    )
    if recipient is None:
        raise Http404
    agent = request.headers.get("User-Agent", "")
    if request.method == "GET" and not events.SCANNER_AGENTS.search(agent):
        events.recipient_event(recipient=recipient, kind=events.Kind.OPENED, user_agent=agent)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_safe
def track_click(request: WorkspaceRequest, token: str) -> HttpResponse:
    found = tokens.click_read(_schema(), token)
    if found is None:
        raise Http404
    recipient_id, index = found
    recipient = (
        CampaignRecipient.objects.select_related("variant")
        .filter(pk=recipient_id, status=CampaignRecipient.Status.SENT)
        .first()
    )
    if recipient is None or recipient.variant is None:
        raise Http404
    links = recipient.variant.links
    if not 0 <= index < len(links):
        raise Http404
    url = links[index]
    agent = request.headers.get("User-Agent", "")
    reason = events.scanner_reason(
        method=request.method or "GET",
        user_agent=agent,
        sent_at=recipient.sent_at,
        now=timezone.now(),
    )
    events.recipient_event(
        recipient=recipient,
        kind=events.Kind.CLICKED,
        url=url,
        user_agent=agent,
        filter_reason=reason,
    )
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response
