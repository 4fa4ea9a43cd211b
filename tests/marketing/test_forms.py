"""Forms and lead capture: the builder refuses bad definitions naming the part; the hosted
page and the embed endpoint; a submission creates a lead with first and last touch (or fills an
existing contact's blanks without overwriting), a touchpoint and a timeline entry; bots are
discarded and counted; rate limits answer 429; bad answers name the field; consents wait as
pending double opt-in requests; CORS only for allowed sites."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_redis import get_redis_connection

from crm_modules.activities.models import Activity, ActivityLink
from crm_modules.marketing.capture import guard, services
from crm_modules.marketing.models_capture import (
    ConsentRequest,
    Form,
    FormSubmission,
    Touchpoint,
)
from crm_modules.sales.api import Contact, Lead
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

FIELDS = [
    {"target": "first_name", "label": "First name", "required": True},
    {"target": "email", "label": "Email", "required": True},
    {"target": "company_name", "label": "Company", "required": False},
    {"target": "job_title", "label": "Job title", "required": False},
]


@pytest.fixture(autouse=True)
def _clean_limits() -> None:
    cache.clear()


def _form(alpha: Workspace, **values: Any) -> Form:
    marketer = fresh(alpha.members[Role.MARKETER])
    base = {
        "name": "Demo request",
        "topic": "demo",
        "fields": FIELDS,
        "consent_channels": ["email"],
        "lead_owner": alpha.members[Role.SALES_REP].user_id,
    }
    return services.form_create(actor=marketer, values={**base, **values})


def _post(alpha: Workspace, form: Form, data: dict[str, str], **headers: Any) -> Any:
    client = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="203.0.113.7")
    body = {"token": guard.token_mint(form), **data}
    return client.post(f"/marketing/f/{form.public_id}/submit/", body, **headers)


UTM = {
    "utm_source": "newsletter",
    "utm_medium": "email",
    "utm_campaign": "spring-26",
    "referrer": "https://news.example.com/",
    "landing_page": "https://example.com/demo?utm_campaign=spring-26",
}


def test_a_form_fill_creates_a_lead_with_its_first_touch_a_touchpoint_and_a_timeline_entry(
    alpha: Workspace,
) -> None:
    form = _form(alpha)
    response = _post(
        alpha,
        form,
        {"first_name": "Дарья", "email": "Darya@Example.com", "job_title": "CTO", **UTM},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": "Thank you! We received your answers."}

    lead = Lead.objects.get()
    assert (lead.first_name, lead.email, lead.owner_id) == (
        "Дарья",
        "darya@example.com",
        alpha.members[Role.SALES_REP].user_id,
    )
    assert lead.source == "Form: Demo request"
    assert lead.notes == "Job title: CTO"
    for touch in (lead.first_touch, lead.last_touch):
        assert {k: touch[k] for k in UTM} == UTM
    submission = FormSubmission.objects.get()
    assert (submission.outcome, submission.lead_id, submission.contact_id) == (
        "lead_created",
        lead.pk,
        None,
    )
    touch = Touchpoint.objects.get()
    assert (touch.kind, touch.lead_id, touch.utm_campaign, touch.referrer) == (
        "form_fill",
        lead.pk,
        "spring-26",
        "https://news.example.com/",
    )
    entry = Activity.objects.get(kind="form_fill")
    assert entry.subject == "Filled in the form Demo request"
    assert "Email: darya@example.com" in entry.body
    assert set(
        ActivityLink.objects.filter(activity=entry).values_list("target_type", "target_id")
    ) == {("sales.lead", lead.pk)}
    form.refresh_from_db()
    assert (form.submissions_count, form.spam_count) == (1, 0)


def test_a_second_fill_keeps_the_first_touch_and_moves_the_last(alpha: Workspace) -> None:
    # The form's lead owner (the Sales rep) may edit this contact: blanks are filled.
    contact = ContactFactory.create(
        first_name="",
        last_name="Rossi",
        job_title="Buyer",
        owner=alpha.members[Role.SALES_REP].user,
    )
    contact.emails.create(email="rossi@example.it", is_primary=True)
    form = _form(alpha)
    first = {**UTM, "utm_campaign": "spring-26"}
    second = {**UTM, "utm_campaign": "summer-26", "utm_source": "ads"}
    for touch in (first, second):
        response = _post(
            alpha,
            form,
            {"first_name": "Marco", "email": "rossi@example.it", "job_title": "CEO", **touch},
        )
        assert response.status_code == 200
        assert b'data-testid="form-done"' in response.content

    contact.refresh_from_db()
    assert contact.first_touch["utm_campaign"] == "spring-26"
    assert contact.last_touch["utm_campaign"] == "summer-26"
    assert (contact.utm_campaign, contact.utm_source) == ("spring-26", "newsletter")
    # Blanks are filled; what the CRM knew is never overwritten by a web form.
    assert (contact.first_name, contact.last_name, contact.job_title) == ("Marco", "Rossi", "Buyer")
    assert not Lead.objects.exists()
    assert list(FormSubmission.objects.values_list("outcome", flat=True)) == [
        "contact_updated",
        "contact_updated",
    ]
    assert Touchpoint.objects.filter(contact=contact).count() == 2


def test_a_contact_the_lead_owner_may_not_edit_gets_the_touch_but_no_field(
    alpha: Workspace,
) -> None:
    contact = ContactFactory.create(first_name="", last_name="Bianchi", owner=alpha.owner.user)
    contact.emails.create(email="bianchi@example.it", is_primary=True)
    form = _form(alpha)
    assert (
        _post(
            alpha, form, {"first_name": "Intruso", "email": "bianchi@example.it", **UTM}
        ).status_code
        == 200
    )
    contact.refresh_from_db()
    assert contact.first_name == ""
    assert contact.first_touch["utm_campaign"] == "spring-26"
    assert FormSubmission.objects.get().contact_id == contact.pk


def test_bad_answers_name_each_field_and_nothing_is_written(alpha: Workspace) -> None:
    form = _form(alpha)
    response = _post(
        alpha, form, {"first_name": "", "email": "not-an-email"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "first_name": "First name is required.",
        "email": "Enter a valid email address.",
    }
    html = _post(alpha, form, {"first_name": "A", "email": ""})
    assert html.status_code == 400
    assert b'data-testid="error-email"' in html.content
    assert not Lead.objects.exists()
    assert not FormSubmission.objects.exists()
    assert not Touchpoint.objects.exists()


def test_a_bot_filling_the_honeypot_is_thanked_counted_and_discarded(alpha: Workspace) -> None:
    form = _form(alpha)
    response = _post(
        alpha,
        form,
        {"first_name": "Bot", "email": "bot@example.com", guard.HONEYPOT: "http://spam"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True
    form.refresh_from_db()
    assert (form.spam_count, form.submissions_count) == (1, 0)
    assert not Lead.objects.exists()
    assert not FormSubmission.objects.exists()


def test_a_missing_or_foreign_token_is_refused(alpha: Workspace, bravo: Workspace) -> None:
    form = _form(alpha)
    other = _form(alpha, name="Other")
    client = Client(HTTP_HOST=alpha.host)
    for token in ("", "forged", guard.token_mint(other)):
        response = client.post(
            f"/marketing/f/{form.public_id}/submit/",
            {"token": token, "first_name": "A", "email": "a@example.com"},
            HTTP_ACCEPT="application/json",
        )
        assert response.status_code == 400
        assert response.json()["message"] == (
            "This form has expired. Reload the page and send it again."
        )
    assert not Lead.objects.exists()


def test_the_rate_limit_per_address_answers_429_and_writes_nothing(
    alpha: Workspace, settings: Any
) -> None:
    settings.MARKETING_FORM_LIMITS = {"ip": (2, 600), "form": (100, 600)}
    form = _form(alpha)
    for n in range(2):
        assert (
            _post(alpha, form, {"first_name": "A", "email": f"a{n}@example.com"}).status_code == 200
        )
    response = _post(
        alpha, form, {"first_name": "A", "email": "a9@example.com"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 429
    assert response.json()["message"] == (
        "Too many answers were sent from here in a short time. Try again in a few minutes."
    )
    assert Lead.objects.count() == 2
    # The counters live under the workspace's schema prefix.
    key = guard.rate_key("ip", "203.0.113.7")
    assert cache.get(key) == 2
    raw = [k.decode() for k in get_redis_connection("default").keys("*mkt:form:ip:*")]
    assert raw
    assert all(k.startswith(f"{alpha.tenant.schema_name}:") for k in raw), raw
    assert "203.0.113.7" not in "".join(raw)


def test_the_rate_limit_per_form(alpha: Workspace, settings: Any) -> None:
    settings.MARKETING_FORM_LIMITS = {"ip": (100, 600), "form": (1, 600)}
    form = _form(alpha)
    assert _post(alpha, form, {"first_name": "A", "email": "a@example.com"}).status_code == 200
    assert _post(alpha, form, {"first_name": "B", "email": "b@example.com"}).status_code == 429
    assert Lead.objects.count() == 1


def test_ticked_consent_waits_as_a_pending_double_opt_in(alpha: Workspace) -> None:
    form = _form(alpha, consent_channels=["email", "sms"])
    for _n in range(2):
        _post(alpha, form, {"first_name": "A", "email": "a@example.com", "consent_email": "1"})
    request = ConsentRequest.objects.get()
    assert (request.email, request.channel, request.topic, request.status) == (
        "a@example.com",
        "email",
        "demo",
        "pending",
    )
    # Consent itself is not given until confirmed.
    assert not Contact.objects.filter(consents__isnull=False).exists()


def test_cors_only_for_the_form_endpoints_and_only_for_allowed_sites(alpha: Workspace) -> None:
    form = _form(alpha, allowed_origins="https://shop.example.com")
    client = Client(HTTP_HOST=alpha.host)
    embed = client.get(
        f"/marketing/f/{form.public_id}/embed.json", HTTP_ORIGIN="https://shop.example.com"
    )
    assert embed.status_code == 200
    assert embed["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "Access-Control-Allow-Credentials" not in embed
    spec = embed.json()
    assert [f["target"] for f in spec["fields"]] == [
        "first_name",
        "email",
        "company_name",
        "job_title",
    ]
    assert guard.token_valid(form, spec["token"])

    refused = _post(
        alpha,
        form,
        {"first_name": "A", "email": "a@example.com"},
        HTTP_ORIGIN="https://evil.example.net",
        HTTP_ACCEPT="application/json",
    )
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused
    assert not Lead.objects.exists()
    preflight = client.options(
        f"/marketing/f/{form.public_id}/submit/", HTTP_ORIGIN="https://shop.example.com"
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    # The rest of the workspace host grants no CORS.
    page = workspace_client(alpha.owner.user, alpha.tenant).get(
        "/marketing/forms/", HTTP_ORIGIN="https://shop.example.com"
    )
    assert "Access-Control-Allow-Origin" not in page


def test_the_hosted_page_carries_utm_and_referrer_from_the_visit(alpha: Workspace) -> None:
    form = _form(alpha)
    client = Client(HTTP_HOST=alpha.host)
    response = client.get(
        f"/marketing/f/{form.public_id}/?utm_source=li&utm_campaign=q3",
        HTTP_REFERER="https://linkedin.example/",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert '<input type="hidden" name="utm_source" value="li">' in body
    assert '<input type="hidden" name="utm_campaign" value="q3">' in body
    assert '<input type="hidden" name="referrer" value="https://linkedin.example/">' in body
    assert f'name="{guard.HONEYPOT}"' in body


def test_an_inactive_or_foreign_form_is_not_found(alpha: Workspace, bravo: Workspace) -> None:
    form = _form(alpha, is_active=False)
    client = Client(HTTP_HOST=alpha.host)
    assert client.get(f"/marketing/f/{form.public_id}/").status_code == 404
    live = _form(alpha, name="Live")
    # The same form id on another workspace's host does not exist there.
    other = Client(HTTP_HOST=bravo.host)
    for path in ("", "embed.json"):
        assert other.get(f"/marketing/f/{live.public_id}/{path}").status_code == 404
    response = other.post(
        f"/marketing/f/{live.public_id}/submit/",
        {"token": guard.token_mint(live), "first_name": "A", "email": "a@example.com"},
    )
    assert response.status_code == 404
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"fields": []}, "fields", "Add at least one field."),
        (
            {"fields": [{"target": "first_name", "label": "N", "required": False}]},
            "fields",
            "A form needs an email field: it is how a person is recognised.",
        ),
        (
            {"fields": [{"target": "password", "label": "P", "required": False}]},
            "fields[0].target",
            "Choose where the answer goes.",
        ),
        (
            {"fields": [{"target": "custom.nope", "label": "P", "required": False}]},
            "fields[0].target",
            "There is no contact custom field nope.",
        ),
        ({"consent_channels": ["fax"]}, "consent_channels", "Choose channels from the list."),
        (
            {"allowed_origins": "javascript:alert(1)"},
            "allowed_origins",
            "javascript:alert(1) is not a site such as https://example.com.",
        ),
        (
            {"lead_owner": None},
            "lead_owner",
            "Choose a member who may create leads: the form's leads are theirs.",
        ),
    ],
)
def test_bad_form_definitions_are_refused_naming_the_part(
    alpha: Workspace, values: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        _form(alpha, **values)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert not Form.objects.exists()


def test_a_marketer_may_not_give_leads_to_a_marketer(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as caught:
        _form(alpha, lead_owner=alpha.members[Role.MARKETER].user_id)
    assert caught.value.field == "lead_owner"


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SUPPORT_AGENT, Role.READ_ONLY])
def test_only_marketers_build_forms(alpha: Workspace, role: str) -> None:
    with pytest.raises(PermissionDenied):
        services.form_create(
            actor=fresh(alpha.members[role]),
            values={"name": "X", "fields": FIELDS, "lead_owner": alpha.owner.user_id},
        )
    assert not Form.objects.exists()


def test_the_builder_page_creates_a_form_and_shows_the_embed_snippet(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    response = client.post(
        "/marketing/forms/new/",
        {
            "name": "Newsletter",
            "lead_owner": str(alpha.members[Role.SALES_REP].user_id),
            "consent_channels": ["email"],
            "is_active": "on",
            "field_0_target": "email",
            "field_0_label": "Your email",
            "field_1_target": "custom.nope",
        },
    )
    assert response.status_code == 400  # an unknown custom field is not a choice
    assert not Form.objects.exists()
    response = client.post(
        "/marketing/forms/new/",
        {
            "name": "Newsletter",
            "lead_owner": str(alpha.members[Role.SALES_REP].user_id),
            "is_active": "on",
            "field_0_target": "email",
            "field_0_label": "Your email",
        },
    )
    form = Form.objects.get()
    assert response.status_code == 302
    assert form.fields == [{"target": "email", "label": "Your email", "required": True}]
    assert AuditEvent.objects.filter(action="form.created").count() == 1
    page = client.get(f"/marketing/forms/{form.pk}/")
    assert page.status_code == 200
    snippet = (
        f"&lt;script src=&quot;http://{alpha.host}/static/marketing/form-embed.js&quot; "
        f"data-rapport-form=&quot;{form.public_id}&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in page.content.decode()
    json.dumps(form.fields)


def test_a_fill_keeps_working_once_a_custom_field_it_fills_is_archived(
    alpha: Workspace,
) -> None:
    from crm_modules.sales.services import custom_field_archive, custom_field_create

    owner = fresh(alpha.owner)
    tier = custom_field_create(actor=owner, entity="contact", code="tier", label="T", type="text")
    custom_field_create(actor=owner, entity="contact", code="size", label="S", type="text")
    contact = ContactFactory.create(
        first_name="", owner=alpha.members[Role.SALES_REP].user, custom={"old": "kept"}
    )
    contact.emails.create(email="rossi@example.it", is_primary=True)
    fields = [
        *FIELDS,
        {"target": "custom.tier", "label": "Tier", "required": False},
        {"target": "custom.size", "label": "Size", "required": False},
    ]
    form = _form(alpha, fields=fields)
    custom_field_archive(actor=owner, field=tier, archived=True)
    response = _post(
        alpha,
        form,
        {
            "first_name": "Marco",
            "email": "rossi@example.it",
            "custom.tier": "A",
            "custom.size": "M",
        },
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    # The archived field fills nothing; the one in use does; a deleted field's value stays.
    assert (contact.first_name, contact.custom) == ("Marco", {"old": "kept", "size": "M"})
