"""Email campaigns: content (blocks, HTML sanitised, placeholders with fallbacks, broken
placeholders refused by name), sending to a real SMTP server exactly once per recipient with a
Message-ID each, consent honoured through the contact-pressure rule, tracking (signed, no open
redirect, scanners filtered), timeline entries, the report, A/B winner and significance, local
time, pages and roles."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.utils import timezone

from crm_modules.activities.api import timeline
from crm_modules.marketing.campaigns import abtest, content, sending, services, tokens
from crm_modules.marketing.campaigns.selectors import campaign_report
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.contact_rules import address_suppress
from crm_modules.marketing.models import (
    Campaign,
    CampaignEvent,
    CampaignRecipient,
    CampaignVariant,
    PressureSettings,
    Segment,
    SegmentMember,
)
from crm_modules.marketing.pressure import may_contact
from crm_modules.sales.api import Consent, Contact
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import Sink, fresh, open_contact_rules
from tests.sales.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha", "open_rules")


@pytest.fixture
def open_rules(in_alpha: Workspace) -> None:
    open_contact_rules()


BLOCKS = [
    {"type": "heading", "text": 'Hello {{ first_name | default:"there" }}'},
    {"type": "text", "text": "Spring offer for {{ company }}.\n\nSee you <soon> & well"},
    {"type": "button", "text": "See the offer", "href": "https://example.com/offer?a=1&b=2"},
    {
        "type": "image",
        "src": "https://example.com/i.png",
        "alt": "Logo",
        "href": "https://example.com/",
    },
    {"type": "divider"},
]


def _segment(*contacts: Contact) -> Segment:
    segment = Segment.objects.create(name="List", kind="static")
    SegmentMember.objects.bulk_create(SegmentMember(segment=segment, contact=c) for c in contacts)
    return segment


def _draft(segment: Segment | None, **changes: Any) -> CampaignDraft:
    values: dict[str, Any] = {
        "name": "Spring",
        "segment_id": segment.pk if segment else None,
        "variants": [VariantDraft(subject='Hi {{ first_name | default:"friend" }}', blocks=BLOCKS)],
    }
    values.update(changes)
    return CampaignDraft(**values)


def _send_now(alpha: Workspace, campaign: Campaign, capture: Callable[..., Any]) -> Campaign:
    with capture(execute=True):
        services.campaign_send(actor=fresh(alpha.members[Role.MARKETER]), campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def _html(message: Any) -> str:
    return str(message.get_body(("html",)).get_content())


def _contact(email: str, first: str = "Ann", **kwargs: Any) -> Contact:
    return ContactFactory.create(first_name=first, primary_email=email, **kwargs)


# --- content ------------------------------------------------------------------------------------


def test_placeholders_take_the_field_or_its_fallback_and_are_escaped_in_html() -> None:
    built = content.build(
        subject='Hi {{ first_name | default:"there" }}',
        preheader="",
        mode="blocks",
        blocks=BLOCKS,
        html="",
    )
    named = content.render(
        built, {"first_name": "<b>Zoë</b>", "company": "Rossi"}, link_url=lambda i: f"L{i}"
    )
    unnamed = content.render(built, {"first_name": ""}, link_url=lambda i: f"L{i}")

    assert named.subject == "Hi <b>Zoë</b>"
    assert "Hello &lt;b&gt;Zoë&lt;/b&gt;" in named.html
    assert "<b>Zoë" not in named.html
    assert unnamed.subject == "Hi there"
    assert "Hello there" in unnamed.html
    assert "See you &lt;soon&gt; &amp; well" in named.html
    assert built.links == ["https://example.com/offer?a=1&b=2", "https://example.com/"]
    assert 'href="L0"' in named.html
    assert 'href="L1"' in named.html
    assert "See the offer: L0" in named.text
    assert 'role="presentation"' in named.html
    assert "max-width:600px" in named.html


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Hi {{ frist_name }}", "{{ frist_name }}"),
        ("Hi {{ first_name | default:there }}", "{{ first_name | default:there }}"),
        ("Hi {{ first_name", "{{ first_name"),
        ("Hi {% load x %}", "{% load x %}"),
        ("Hi {{ first_name|upper }}", "{{ first_name|upper }}"),
    ],
)
def test_a_broken_placeholder_is_refused_naming_it_and_nothing_is_saved(
    alpha: Workspace, text: str, named: str
) -> None:
    blocks = [{"type": "text", "text": "ok"}, {"type": "text", "text": text}]
    with pytest.raises(ServiceError) as error:
        services.campaign_create(
            actor=fresh(alpha.members[Role.MARKETER]),
            draft=_draft(None, variants=[VariantDraft(subject="S", blocks=blocks)]),
        )
    assert error.value.field == "blocks[1].text"
    assert named in error.value.message
    assert not Campaign.objects.exists()
    assert not CampaignVariant.objects.exists()


@pytest.mark.parametrize(
    ("blocks", "field"),
    [
        ([], "blocks"),
        ([{"type": "video"}], "blocks[0].type"),
        ([{"type": "button", "text": "x", "href": "javascript:alert(1)"}], "blocks[0].href"),
        ([{"type": "image", "src": "ftp://x/y.png"}], "blocks[0].src"),
        ([{"type": "divider", "text": "x"}], "blocks[0].text"),
        ([{"type": "heading", "text": ""}], "blocks[0].text"),
    ],
)
def test_bad_blocks_are_refused_naming_the_block(blocks: Any, field: str) -> None:
    with pytest.raises(ServiceError) as error:
        content.check_blocks(blocks)
    assert error.value.field == field


def test_raw_html_is_sanitised_and_its_links_become_the_only_redirect_targets() -> None:
    raw = (
        '<p onclick="x()">Hi {{ first_name | default:"you" }}<script>alert(1)</script></p>'
        '<a href="https://example.com/a">A</a><a href="javascript:alert(2)">B</a>'
        '<iframe src="https://evil.example"></iframe><img src="https://example.com/p.png">'
    )
    content.check_html(raw)
    built = content.build(subject="S", preheader="P", mode="html", blocks=[], html=raw)
    out = content.render(built, {"first_name": "Bo"}, link_url=lambda i: f"https://t/{i}")

    assert "script" not in out.html
    assert "onclick" not in out.html
    assert "iframe" not in out.html
    assert "javascript" not in out.html
    assert built.links == ["https://example.com/a"]
    assert 'href="https://t/0"' in out.html
    assert "Hi Bo" in out.html


def test_a_placeholder_in_a_link_is_refused() -> None:
    with pytest.raises(ServiceError) as error:
        content.check_html('<a href="https://x.example/{{ email }}">x</a>')
    assert error.value.field == "html"


# --- services and roles -------------------------------------------------------------------------


def test_a_sales_rep_may_not_create_or_send(alpha: Workspace) -> None:
    with pytest.raises(PermissionDenied):
        services.campaign_create(actor=fresh(alpha.members[Role.SALES_REP]), draft=_draft(None))
    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]), draft=_draft(None)
    )
    with pytest.raises(PermissionDenied):
        services.campaign_send(actor=fresh(alpha.members[Role.SALES_REP]), campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    actions = AuditEvent.objects.filter(action__startswith="campaign.").values_list(
        "action", flat=True
    )
    assert list(actions) == ["campaign.created"]


def test_a_campaign_without_a_segment_is_not_sent(alpha: Workspace) -> None:
    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]), draft=_draft(None)
    )
    with pytest.raises(ServiceError) as error:
        services.campaign_send(actor=fresh(alpha.members[Role.MARKETER]), campaign=campaign)
    assert error.value.field == "segment"
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_test_send_goes_to_the_editor_only(
    alpha: Workspace, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    contact = _contact("zoe@example.com", "Zoë", company=CompanyFactory.create(name="Rossi"))
    marketer = fresh(alpha.members[Role.MARKETER])
    campaign = services.campaign_create(actor=marketer, draft=_draft(_segment(contact)))
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_test_send(actor=marketer, campaign=campaign, contact=contact)

    assert [m.to for m in mail.outbox] == [[marketer.user.email]]
    assert mail.outbox[0].subject == "[Test] Hi Zoë"
    html = str(cast(EmailMultiAlternatives, mail.outbox[0]).alternatives[0][0])
    assert "Spring offer for Rossi." in html
    assert "https://example.com/offer?a=1&amp;b=2" in html
    assert not CampaignRecipient.objects.exists()


# --- sending ------------------------------------------------------------------------------------


def test_sending_reaches_each_consenting_recipient_exactly_once(
    alpha: Workspace, smtp_sink: Sink, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    ann = _contact("ann@example.com", "Ann")
    nameless = _contact("x@example.com", "")
    withdrawn = _contact("no@example.com", "Wes")
    Consent.objects.create(
        contact=withdrawn,
        channel="email",
        status="withdrawn",
        recorded_at=timezone.now(),
        method="form",
    )
    no_email = _contact("", "Nia")
    marketer = fresh(alpha.members[Role.MARKETER])
    campaign = services.campaign_create(
        actor=marketer, draft=_draft(_segment(ann, nameless, withdrawn, no_email))
    )

    campaign = _send_now(alpha, campaign, django_capture_on_commit_callbacks)

    assert campaign.status == "sent"
    assert sorted(smtp_sink.to()) == ["ann@example.com", "x@example.com"]
    by_to = {str(m["To"]): m for m in smtp_sink.messages}
    assert by_to["ann@example.com"]["Subject"] == "Hi Ann"
    assert by_to["x@example.com"]["Subject"] == "Hi friend"
    rows = {r.contact_id: r for r in CampaignRecipient.objects.filter(campaign=campaign)}
    assert {k: (r.status, r.reason) for k, r in rows.items()} == {
        ann.pk: ("sent", ""),
        nameless.pk: ("sent", ""),
        withdrawn.pk: ("skipped", "no_consent"),
        no_email.pk: ("skipped", "no_email"),
    }
    schema = alpha.tenant.schema_name
    assert by_to["ann@example.com"]["Message-ID"] == (
        f"<campaign.{schema}.{rows[ann.pk].pk}@localhost>"
    )
    html = _html(by_to["ann@example.com"])
    open_url = f"http://alpha.localhost/marketing/t/o/{tokens.open_token(schema, rows[ann.pk].pk)}/"
    assert open_url in html
    click = (
        f"http://alpha.localhost/marketing/t/c/{tokens.click_token(schema, rows[ann.pk].pk, 0)}/"
    )
    assert click in html
    assert "example.com/offer" not in html  # every link goes through the redirect
    # Delivered, on the timeline of each contact sent to, and nowhere else.
    assert CampaignEvent.objects.filter(kind="delivered").count() == 2
    assert [a.outcome for a in timeline(ann)] == ["delivered"]
    assert timeline(withdrawn) == []

    # A second pass finds nothing to send: exactly once.
    assert sending.send_batch(campaign.pk, limit=100) == 0
    assert len(smtp_sink.messages) == 2


def test_a_worker_killed_mid_send_leaves_its_claimed_rows_to_a_lease_and_nothing_is_sent_twice(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    contacts = [_contact(f"c{i}@example.com", f"C{i}") for i in range(6)]
    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]), draft=_draft(_segment(*contacts))
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        status="scheduled", send_at=timezone.now(), sent_by=alpha.members[Role.MARKETER].user
    )
    sending.campaign_queue_recipients(campaign.pk)
    # This worker claims four rows and dies after sending two (its process is gone: its rows
    # stay 'sending' under their lease, no record of an SMTP acceptance).
    claimed = sending.claim(campaign.pk, 4)
    assert len(claimed) == 4
    done = claimed[:2]
    for row in done:
        CampaignRecipient.objects.filter(pk=row.id).update(status="sent", sent_at=timezone.now())
        smtp_sink.messages.append(_fake_accepted(row.email))
    # Another worker meanwhile skips the locked/claimed rows and takes the rest.
    assert sending.send_batch(campaign.pk, limit=100) == 2
    assert sorted(smtp_sink.to()) == [
        "c0@example.com",
        "c1@example.com",
        "c4@example.com",
        "c5@example.com",
    ]
    # Before the lease runs out nothing more goes.
    assert sending.send_batch(campaign.pk, limit=100) == 0
    CampaignRecipient.objects.filter(status="sending").update(
        lease_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert sending.send_batch(campaign.pk, limit=100) == 2
    assert Counter(smtp_sink.to()) == Counter({f"c{i}@example.com": 1 for i in range(6)})
    assert set(CampaignRecipient.objects.values_list("status", flat=True)) == {"sent"}
    assert sending.campaign_finish_if_done(campaign.pk)


def _fake_accepted(address: str) -> Any:
    import email.message

    message = email.message.EmailMessage()
    message["To"] = address
    return message


def test_a_refusal_with_a_later_time_reschedules_and_one_without_skips(
    alpha: Workspace,
    smtp_sink: Sink,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # The contact-pressure rule answers: quiet hours around now where the contacts live (not
    # before their end), and a suppressed address (never).
    now = timezone.now()
    local = now.astimezone(zoneinfo.ZoneInfo(alpha.tenant.time_zone))
    PressureSettings.objects.filter(pk=1).update(
        quiet_start=(local - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_end=(local + datetime.timedelta(hours=3)).time().replace(second=0, microsecond=0),
    )
    quiet = _contact("quiet@example.com")
    suppressed = _contact("suppressed@example.com")
    address_suppress(channel="email", address="Suppressed@example.com", reason="manual")
    later = may_contact(quiet, channel="email", purpose="marketing").not_before
    assert later is not None
    hour = datetime.timedelta(hours=1)
    assert now + 3 * hour - datetime.timedelta(minutes=2) < later <= now + 3 * hour

    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]), draft=_draft(_segment(quiet, suppressed))
    )
    campaign = _send_now(alpha, campaign, django_capture_on_commit_callbacks)

    assert smtp_sink.messages == []
    rows = {r.contact_id: r for r in CampaignRecipient.objects.all()}
    assert (rows[quiet.pk].status, rows[quiet.pk].send_after) == ("queued", later)
    assert (rows[suppressed.pk].status, rows[suppressed.pk].reason) == ("skipped", "suppressed")
    assert campaign.status == "sending"
    assert sending.next_due(campaign.pk) == later


def test_local_time_sends_at_the_same_wall_clock_in_each_zone(alpha: Workspace) -> None:
    rome = _contact("rome@example.com", time_zone="Europe/Rome")
    bangkok = _contact("bkk@example.com", time_zone="Asia/Bangkok")
    plain = _contact("plain@example.com")
    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]), draft=_draft(_segment(rome, bangkok, plain))
    )
    zone = alpha.tenant.time_zone
    tomorrow = timezone.now().astimezone(
        __import__("zoneinfo").ZoneInfo(zone)
    ).date() + datetime.timedelta(days=2)
    nine = datetime.datetime.combine(
        tomorrow, datetime.time(9, 0), tzinfo=__import__("zoneinfo").ZoneInfo(zone)
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        status="scheduled", send_at=nine, local_time=True, sent_by=alpha.members[Role.MARKETER].user
    )
    sending.campaign_queue_recipients(campaign.pk)
    import zoneinfo

    at = {r.contact_id: r.send_after for r in CampaignRecipient.objects.all()}
    assert at[rome.pk] == datetime.datetime.combine(
        tomorrow, datetime.time(9), tzinfo=zoneinfo.ZoneInfo("Europe/Rome")
    )
    assert at[bangkok.pk] == datetime.datetime.combine(
        tomorrow, datetime.time(9), tzinfo=zoneinfo.ZoneInfo("Asia/Bangkok")
    )
    assert at[plain.pk] == nine
    assert sending.claim(campaign.pk, 10) == []


# --- tracking -----------------------------------------------------------------------------------


@pytest.fixture
def sent_to_ann(
    alpha: Workspace, smtp_sink: Sink, django_capture_on_commit_callbacks: Callable[..., Any]
) -> CampaignRecipient:
    ann = _contact("ann@example.com", "Ann")
    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]), draft=_draft(_segment(ann))
    )
    _send_now(alpha, campaign, django_capture_on_commit_callbacks)
    row = CampaignRecipient.objects.get(contact=ann)
    # Delivered a minute ago: clicks now are past the link-scanner window.
    CampaignRecipient.objects.filter(pk=row.pk).update(
        sent_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    row.refresh_from_db()
    return row


BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"


def test_the_pixel_records_one_open_on_the_timeline(
    alpha: Workspace, sent_to_ann: CampaignRecipient
) -> None:
    schema = alpha.tenant.schema_name
    anonymous = Client(HTTP_HOST=alpha.host, HTTP_USER_AGENT=BROWSER)
    path = f"/marketing/t/o/{tokens.open_token(schema, sent_to_ann.pk)}/"

    first = anonymous.get(path)
    second = anonymous.get(path)

    assert first.status_code == second.status_code == 200
    assert first["Content-Type"] == "image/gif"
    assert "no-store" in first["Cache-Control"] or "max-age=0" in first["Cache-Control"]
    sent_to_ann.refresh_from_db()
    assert sent_to_ann.opened_at is not None
    assert CampaignEvent.objects.filter(kind="opened").count() == 2
    contact = Contact.objects.get(pk=sent_to_ann.contact_id)
    assert [a.outcome for a in timeline(contact)] == ["opened", "delivered"]


def test_a_click_redirects_only_to_a_link_of_the_campaign(
    alpha: Workspace, sent_to_ann: CampaignRecipient
) -> None:
    schema = alpha.tenant.schema_name
    anonymous = Client(HTTP_HOST=alpha.host, HTTP_USER_AGENT=BROWSER)

    response = anonymous.get(f"/marketing/t/c/{tokens.click_token(schema, sent_to_ann.pk, 0)}/")

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/offer?a=1&b=2"
    sent_to_ann.refresh_from_db()
    assert sent_to_ann.clicked_at is not None
    assert sent_to_ann.opened_at is not None
    contact = Contact.objects.get(pk=sent_to_ann.contact_id)
    assert sorted(a.outcome for a in timeline(contact)) == ["clicked", "delivered", "opened"]
    report = campaign_report(campaign=Campaign.objects.get(pk=sent_to_ann.campaign_id))
    assert (report.counts["delivered"], report.counts["opened"], report.counts["clicked"]) == (
        1,
        1,
        1,
    )
    assert report.rates["clicked"] == 100.0


@pytest.mark.parametrize(
    "path",
    [
        "/marketing/t/c/{rid}.0:forged/",
        "/marketing/t/c/{other}/",  # a link index the campaign does not have
        "/marketing/t/c/{bravo}/",  # signed for another workspace
        "/marketing/t/o/{click}/",  # a click token is no open token
        "/marketing/t/o/{rid}/",
    ],
)
def test_forged_or_foreign_tokens_are_not_found_and_record_nothing(
    alpha: Workspace, sent_to_ann: CampaignRecipient, path: str
) -> None:
    schema = alpha.tenant.schema_name
    rid = sent_to_ann.pk
    url = path.format(
        rid=rid,
        other=tokens.click_token(schema, rid, 7),
        bravo=tokens.click_token("bravo", rid, 0),
        click=tokens.click_token(schema, rid, 0),
    )
    events_before = CampaignEvent.objects.count()
    response = Client(HTTP_HOST=alpha.host, HTTP_USER_AGENT=BROWSER).get(url)
    assert response.status_code == 404
    assert CampaignEvent.objects.count() == events_before
    sent_to_ann.refresh_from_db()
    assert sent_to_ann.opened_at is None
    assert sent_to_ann.clicked_at is None


@pytest.mark.parametrize(
    ("method", "agent", "age_seconds", "reason"),
    [
        ("HEAD", BROWSER, 60, "head_request"),
        ("GET", "Mozilla/5.0 (compatible; Barracuda Sentinel)", 60, "scanner_agent"),
        ("GET", "", 60, "no_user_agent"),
        ("GET", BROWSER, 2, "too_soon"),
    ],
)
def test_link_scanner_clicks_are_kept_apart_and_not_counted(
    alpha: Workspace,
    sent_to_ann: CampaignRecipient,
    method: str,
    agent: str,
    age_seconds: int,
    reason: str,
) -> None:
    CampaignRecipient.objects.filter(pk=sent_to_ann.pk).update(
        sent_at=timezone.now() - datetime.timedelta(seconds=age_seconds)
    )
    client = Client(HTTP_HOST=alpha.host, HTTP_USER_AGENT=agent)
    path = f"/marketing/t/c/{tokens.click_token(alpha.tenant.schema_name, sent_to_ann.pk, 1)}/"
    response = client.head(path) if method == "HEAD" else client.get(path)

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/"
    event = CampaignEvent.objects.get(kind="clicked")
    assert (event.filtered, event.filter_reason) == (True, reason)
    sent_to_ann.refresh_from_db()
    assert sent_to_ann.clicked_at is None
    report = campaign_report(campaign=Campaign.objects.get(pk=sent_to_ann.campaign_id))
    assert (report.counts["clicked"], report.filtered_clicks) == (0, 1)


def test_a_bounce_is_counted_once_and_put_on_the_timeline(sent_to_ann: CampaignRecipient) -> None:
    from crm_modules.marketing.campaigns import events

    assert events.recipient_event(recipient=sent_to_ann, kind="bounced") is True
    assert events.recipient_event(recipient=sent_to_ann, kind="bounced") is False
    report = campaign_report(campaign=Campaign.objects.get(pk=sent_to_ann.campaign_id))
    assert report.counts["bounced"] == 1
    contact = Contact.objects.get(pk=sent_to_ann.contact_id)
    assert [a.outcome for a in timeline(contact)].count("bounced") == 1


# --- A/B ----------------------------------------------------------------------------------------


def test_two_proportion_z_test() -> None:
    result = abtest.two_proportion_z(60, 200, 40, 200)
    assert result is not None
    assert round(result.z, 3) == 2.309
    assert round(result.p_value, 4) == 0.0209
    assert result.significant
    assert abtest.two_proportion_z(0, 10, 0, 10) is None
    assert abtest.two_proportion_z(1, 0, 1, 10) is None


def test_an_ab_test_sends_the_test_group_then_the_winner_to_the_rest(
    alpha: Workspace, smtp_sink: Sink, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    contacts = [_contact(f"ab{i}@example.com", f"N{i}") for i in range(60)]
    draft = _draft(
        _segment(*contacts),
        variants=[
            VariantDraft(subject="Subject A", blocks=[{"type": "text", "text": "A"}]),
            VariantDraft(subject="Subject B", blocks=[{"type": "text", "text": "B"}]),
        ],
        ab_fraction="0.5",
        ab_min_sample=10,
        ab_wait_minutes=60,
    )
    campaign = services.campaign_create(actor=fresh(alpha.members[Role.MARKETER]), draft=draft)
    campaign = _send_now(alpha, campaign, django_capture_on_commit_callbacks)

    assert campaign.status == "testing"
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    tested = rows.filter(status="sent")
    held = rows.filter(status="held")
    assert tested.count() + held.count() == 60
    assert tested.count() >= 20
    assert held.count() >= 1
    assert len(smtp_sink.messages) == tested.count()
    by_letter = Counter(tested.values_list("variant__letter", flat=True))
    assert set(by_letter) == {"A", "B"}
    # B's recipients open more.
    b_rows = list(tested.filter(variant__letter="B"))
    CampaignRecipient.objects.filter(pk__in=[r.pk for r in b_rows]).update(opened_at=timezone.now())

    assert abtest.winner_pick(campaign.pk) is None  # the waiting time has not passed
    later = timezone.now() + datetime.timedelta(minutes=61)
    assert abtest.winner_pick(campaign.pk, now=later) == "B"
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    assert campaign.winner is not None
    assert campaign.winner.letter == "B"
    assert set(held.values_list("variant__letter", flat=True)) == set()
    assert set(rows.filter(status="queued").values_list("variant__letter", flat=True)) == {"B"}
    report = campaign_report(campaign=campaign)
    assert [v["letter"] for v in report.variants] == ["A", "B"]
    assert report.significance is not None
    assert report.significance.significant

    while sending.send_batch(campaign.pk, limit=50):
        pass
    assert Counter(smtp_sink.to()) == Counter({f"ab{i}@example.com": 1 for i in range(60)})
    subjects = Counter(str(m["Subject"]) for m in smtp_sink.messages)
    assert subjects["Subject A"] == by_letter["A"]
    assert subjects["Subject B"] == 60 - by_letter["A"]


# --- pages ----------------------------------------------------------------------------------------


def test_a_marketer_creates_a_campaign_on_the_page_and_sees_a_broken_placeholder_named(
    alpha: Workspace,
) -> None:
    segment = _segment(_contact("p@example.com"))
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    form = {
        "name": "Page campaign",
        "segment": str(segment.pk),
        "subject_a": "Hi {{ first_name }}",
        "mode_a": "blocks",
        "blocks_a": '[{"type": "text", "text": "Hello {{ frist_name }}"}]',
        "mode_b": "blocks",
        "mode_c": "blocks",
        "ab_min_sample": "100",
        "ab_wait_minutes": "240",
        "ab_metric": "opens",
    }
    refused = client.post("/marketing/campaigns/new/", form)
    assert refused.status_code == 400
    assert "blocks[0].text" in refused.content.decode()
    assert "{{ frist_name }}" in refused.content.decode()
    assert not Campaign.objects.exists()

    form["blocks_a"] = '[{"type": "text", "text": "Hello {{ first_name | default:\\"you\\" }}"}]'
    created = client.post("/marketing/campaigns/new/", form)
    assert created.status_code == 302
    campaign = Campaign.objects.get()
    assert created["Location"] == f"/marketing/campaigns/{campaign.pk}/"
    page = client.get(created["Location"])
    assert page.status_code == 200
    assert b'data-testid="campaign-report"' in page.content


def test_preview_as_a_contact_shows_sanitised_html(alpha: Workspace) -> None:
    contact = _contact("v@example.com", "Vera")
    raw = '<p>Dear {{ first_name }}</p><script>alert(1)</script><img src=x onerror="alert(2)">'
    campaign = services.campaign_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        draft=_draft(
            None, variants=[VariantDraft(subject="S {{ first_name }}", mode="html", html=raw)]
        ),
    )
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    response = client.get(f"/marketing/campaigns/{campaign.pk}/preview/?contact={contact.pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Dear Vera" in body
    assert 'data-testid="preview-subject">S Vera<' in body
    assert "alert(1)" not in body
    assert "onerror" not in body


def test_the_report_fragment_answers_htmx(alpha: Workspace, sent_to_ann: CampaignRecipient) -> None:
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    response = client.get(
        f"/marketing/campaigns/{sent_to_ann.campaign_id}/", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith("<section") or body.lstrip().startswith("<section")
    assert re.search(r'data-testid="count-delivered">1<', body)
    assert "campaign-figure" in body
