"""Sequences (ADR 0041): steps validated with the step and field named; enrolment (one, a list,
a segment, the API) with refusals that say why; the sweep in explicit time (email to a real SMTP
server through the contact-pressure rule, a task for the owner, delays in business days,
conditions, deferral by quiet hours and the cap); every exit reason, on the timeline; tracking
tokens; roles on the pages and the API."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client

from crm_modules.activities.api import activity_log, timeline
from crm_modules.marketing.contact_rules import address_suppress
from crm_modules.marketing.models import ContactTouch, PressureSettings, Segment, SegmentMember
from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep, StepRun
from crm_modules.marketing.sequences import running, selectors, services, tracking
from crm_modules.marketing.sequences.steps import StepDraft, step_due
from crm_modules.sales.api import (
    Consent,
    Contact,
    Task,
    contact_consent_by_recipient,
    contact_update,
)
from crm_modules.service.api import ticket_create
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.marketing.conftest import Sink, fresh, open_contact_rules
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha", "open_rules")

T0 = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=datetime.UTC)  # a Wednesday
DAY = datetime.timedelta(days=1)
Reason = Enrolment.ExitReason


@pytest.fixture
def open_rules(in_alpha: Workspace) -> None:
    open_contact_rules()


def email(subject: str = 'Hi {{ first_name | default:"there" }}', **kw: Any) -> StepDraft:
    values: dict[str, Any] = {
        "kind": "email",
        "delay_amount": 0,
        "delay_unit": "hours",
        "subject": subject,
        "body": '<p>Hello {{ first_name }}, <a href="https://example.com/demo">book a demo</a></p>',
    }
    values.update(kw)
    return StepDraft(**values)


def task(**kw: Any) -> StepDraft:
    values: dict[str, Any] = {"kind": "task", "delay_amount": 2, "delay_unit": "days"}
    values.update({"task_title": "Call them"}, **kw)
    return StepDraft(**values)


def _marketer(alpha: Workspace) -> Any:
    return fresh(alpha.members[Role.MARKETER])


def _sequence(alpha: Workspace, *steps: StepDraft, name: str = "Welcome") -> Sequence:
    actor = _marketer(alpha)
    sequence = services.sequence_create(actor=actor, name=name, steps=list(steps))
    return services.sequence_activate(actor=actor, sequence=sequence)


def _contact(alpha: Workspace, address: str = "ann@example.com", **kw: Any) -> Contact:
    values = {"primary_email": address, "owner": alpha.members[Role.SALES_REP].user}
    values.update(kw)
    return ContactFactory.create(first_name="Ann", **values)


def _enrol(
    alpha: Workspace, sequence: Sequence, contact: Contact, at: datetime.datetime = T0
) -> Enrolment:
    return services.enrol_contact(
        actor=_marketer(alpha), sequence=sequence, contact_id=contact.pk, now=at
    )


def _sweep(at: datetime.datetime) -> dict[str, int]:
    return running.sequences_run_due(now=at)


def _state(enrolment: Enrolment) -> tuple[str, str]:
    enrolment.refresh_from_db()
    return enrolment.state, enrolment.exit_reason


# --- steps: bad input -----------------------------------------------------------------------


def test_an_empty_sequence_is_refused_and_nothing_is_stored(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(actor=_marketer(alpha), name="Empty", steps=[])
    assert caught.value.field == "steps"
    assert not Sequence.objects.filter(name="Empty").exists()


def test_a_broken_placeholder_names_the_step_and_the_placeholder(alpha: Workspace) -> None:
    steps = [email(), task(), email(body="<p>Hi {{ frist_name }}</p>", delay_amount=1)]
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(actor=_marketer(alpha), name="Broken", steps=steps)
    assert caught.value.field == "steps[2].body"
    assert "Step 3" in caught.value.message
    assert "{{ frist_name }}" in caught.value.message
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(
            actor=_marketer(alpha), name="Broken", steps=[email(subject="Hi {% now %}")]
        )
    assert caught.value.field == "steps[0].subject"
    assert "{% now %}" in caught.value.message
    assert not Sequence.objects.filter(name="Broken").exists()


@pytest.mark.parametrize(
    ("position", "amount", "unit"),
    [(2, 0, "days"), (1, -1, "hours"), (2, -3, "days"), (1, 366, "days"), (2, 9000, "hours")],
)
def test_a_zero_negative_or_huge_delay_is_refused(
    alpha: Workspace, position: int, amount: int, unit: str
) -> None:
    steps = [email(), task()]
    steps[position - 1] = (email if position == 1 else task)(delay_amount=amount, delay_unit=unit)
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(actor=_marketer(alpha), name="Delays", steps=steps)
    assert caught.value.field == f"steps[{position - 1}].delay_amount"
    assert f"Step {position}" in caught.value.message


def test_a_delay_that_is_not_a_number_and_an_unknown_kind_are_named(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(
            actor=_marketer(alpha), name="X", steps=[email(delay_amount="двa")]
        )
    assert caught.value.field == "steps[0].delay_amount"
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(actor=_marketer(alpha), name="X", steps=[StepDraft(kind="sms")])
    assert caught.value.field == "steps[0].kind"


def test_a_not_opened_condition_needs_an_earlier_email(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as caught:
        services.sequence_create(
            actor=_marketer(alpha), name="X", steps=[task(condition="not_opened")]
        )
    assert caught.value.field == "steps[0].condition"


def test_scripts_in_a_body_are_removed_as_the_campaign_editor_does(alpha: Workspace) -> None:
    body = (
        '<p onclick="steal()">สวัสดี {{ first_name }} 你好</p><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><iframe src="https://evil.example"></iframe>'
    )
    sequence = _sequence(alpha, email(body=body, subject="Привет; DROP TABLE contacts;--"))
    step = SequenceStep.objects.get(sequence=sequence)
    assert "<script" not in step.body
    assert "onclick" not in step.body
    assert "javascript:" not in step.body
    assert "<iframe" not in step.body
    assert "สวัสดี {{ first_name }} 你好" in step.body
    assert step.subject == "Привет; DROP TABLE contacts;--"


def test_only_the_roles_that_manage_sequences_create_them(alpha: Workspace) -> None:
    for role in (Role.SALES_REP, Role.SUPPORT_AGENT, Role.READ_ONLY):
        with pytest.raises(PermissionDenied):
            services.sequence_create(actor=fresh(alpha.members[role]), name="Nope", steps=[email()])
    assert not Sequence.objects.filter(name="Nope").exists()


def test_editing_keeps_steps_by_position_and_drops_the_rest(alpha: Workspace) -> None:
    sequence = _sequence(alpha, email(), task(), task(task_title="Third"))
    first = SequenceStep.objects.get(sequence=sequence, position=1)
    services.sequence_update(
        actor=_marketer(alpha),
        sequence=sequence,
        name="Welcome 2",
        steps=[email(subject="New subject"), task(task_title="Second")],
    )
    steps = list(SequenceStep.objects.filter(sequence=sequence).order_by("position"))
    assert [(s.pk == first.pk, s.subject or s.task_title) for s in steps] == [
        (True, "New subject"),
        (False, "Second"),
    ]


# --- enrolment --------------------------------------------------------------------------------


def test_one_running_enrolment_per_contact_and_sequence(alpha: Workspace) -> None:
    sequence = _sequence(alpha, email())
    contact = _contact(alpha)
    _enrol(alpha, sequence, contact)
    with pytest.raises(ServiceError) as caught:
        _enrol(alpha, sequence, contact)
    assert caught.value.code == "refused"
    assert "already in this sequence" in caught.value.message
    assert Enrolment.objects.filter(sequence=sequence, contact=contact).count() == 1


def test_an_unsubscribed_or_suppressed_contact_is_refused_with_the_reason(
    alpha: Workspace,
) -> None:
    sequence = _sequence(alpha, email())
    gone = _contact(alpha, "gone@example.com")
    Consent.objects.create(
        contact=gone, channel="email", status=Consent.Status.WITHDRAWN, recorded_at=T0
    )
    bounced = _contact(alpha, "bounced@example.com")
    address_suppress(channel="email", address="bounced@example.com", reason="hard_bounce")
    silent = _contact(alpha, "")
    for contact, reason in (
        (gone, "unsubscribed from email"),
        (bounced, "suppression list"),
        (silent, "no email address"),
    ):
        with pytest.raises(ServiceError) as caught:
            _enrol(alpha, sequence, contact)
        assert reason in caught.value.message
    assert not Enrolment.objects.filter(sequence=sequence).exists()


def test_a_draft_sequence_takes_no_enrolment(alpha: Workspace) -> None:
    sequence = services.sequence_create(actor=_marketer(alpha), name="Draft", steps=[email()])
    with pytest.raises(ServiceError) as caught:
        _enrol(alpha, sequence, _contact(alpha))
    assert caught.value.field == "sequence"


def test_a_segment_is_enrolled_with_each_refusal_reported(alpha: Workspace) -> None:
    sequence = _sequence(alpha, email())
    contacts = [_contact(alpha, f"s{i}@example.com") for i in range(3)]
    Consent.objects.create(
        contact=contacts[2], channel="email", status=Consent.Status.WITHDRAWN, recorded_at=T0
    )
    segment = Segment.objects.create(name="List", kind="static")
    SegmentMember.objects.bulk_create(SegmentMember(segment=segment, contact=c) for c in contacts)
    result = services.enrol_segment(actor=_marketer(alpha), sequence=sequence, segment=segment)
    assert result.enrolled == [contacts[0].pk, contacts[1].pk]
    assert [pk for pk, _why in result.refused] == [contacts[2].pk]
    again = services.enrol_segment(actor=_marketer(alpha), sequence=sequence, segment=segment)
    assert again.enrolled == []
    assert len(again.refused) == 3


def test_a_sales_rep_enrols_only_contacts_they_may_see_and_a_read_only_member_none(
    alpha: Workspace,
) -> None:
    from tenants.models import Tenant

    sequence = _sequence(alpha, email())
    own = _contact(alpha, "own@example.com")
    other = _contact(alpha, "other@example.com", owner=alpha.owner.user)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    rep = fresh(alpha.members[Role.SALES_REP])
    result = services.enrol_contacts(actor=rep, sequence=sequence, contact_ids=[own.pk, other.pk])
    assert result.enrolled == [own.pk]
    assert result.refused[0][0] == other.pk
    with pytest.raises(PermissionDenied):
        services.enrol_contacts(
            actor=fresh(alpha.members[Role.READ_ONLY]), sequence=sequence, contact_ids=[own.pk]
        )


# --- the sweep --------------------------------------------------------------------------------


def test_steps_run_in_time_exactly_once_email_then_task(alpha: Workspace, smtp_sink: Sink) -> None:
    sequence = _sequence(alpha, email(), task(delay_amount=2, delay_unit="days"))
    contact = _contact(alpha)
    enrolment = _enrol(alpha, sequence, contact)
    assert enrolment.due_at == T0

    assert _sweep(T0) == {"sent": 1}
    assert smtp_sink.to() == ["ann@example.com"]
    message = smtp_sink.messages[0]
    assert str(message["Subject"]) == "Hi Ann"
    assert re.fullmatch(r"<sequence\.\w+\.\d+@.+>", str(message["Message-ID"]))
    assert (
        ContactTouch.objects.filter(contact=contact, source=f"sequence:{sequence.pk}").count() == 1
    )
    run = StepRun.objects.get(enrolment=enrolment)
    assert run.status == StepRun.Status.SENT
    enrolment.refresh_from_db()
    assert (enrolment.next_position, enrolment.due_at) == (2, T0 + 2 * DAY)

    # Nothing more is due until the delay has passed; a second sweep sends nothing again.
    assert _sweep(T0 + DAY) == {}
    assert len(smtp_sink.messages) == 1

    assert _sweep(T0 + 2 * DAY) == {"task": 1}
    created = Task.objects.get(contact=contact)
    assert (created.title, created.owner_id) == ("Call them", contact.owner_id)
    assert _state(enrolment) == (Enrolment.State.FINISHED, "")
    assert _sweep(T0 + 30 * DAY) == {}
    assert len(smtp_sink.messages) == 1
    assert Task.objects.filter(contact=contact).count() == 1
    kinds = [entry.kind for entry in timeline(contact)]
    assert "sequence_email" in kinds


def _run_task_step(
    alpha: Workspace, contact: Contact, *, creator: Role, enroller: Role
) -> tuple[Enrolment, dict[str, int]]:
    actor = fresh(alpha.members[creator])
    sequence = services.sequence_create(
        actor=actor, name="Follow up", steps=[task(delay_amount=1, delay_unit="hours")]
    )
    sequence = services.sequence_activate(actor=actor, sequence=sequence)
    enrolment = services.enrol_contact(
        actor=fresh(alpha.members[enroller]), sequence=sequence, contact_id=contact.pk, now=T0
    )
    return enrolment, _sweep(T0 + DAY)


@pytest.mark.parametrize(
    ("creator", "enroller", "assignee"),
    [
        # The member who enrolled the contact works tasks: it is theirs.
        (Role.MARKETER, Role.MANAGER, Role.MANAGER),
        # A marketer enrolled (marketers do not work tasks): the sequence's creator gets it.
        (Role.ADMIN, Role.MARKETER, Role.ADMIN),
    ],
)
def test_a_task_step_for_a_contact_without_an_owner_goes_to_the_enroller_or_the_creator(
    alpha: Workspace, creator: Role, enroller: Role, assignee: Role
) -> None:
    contact = _contact(alpha, "nobody@example.com", owner=None)
    enrolment, outcome = _run_task_step(alpha, contact, creator=creator, enroller=enroller)
    assert outcome == {"task": 1}
    [created] = Task.objects.filter(contact=contact)
    member = alpha.members[assignee]
    assert (created.title, created.owner_id, created.created_by_id) == (
        "Call them",
        member.user_id,
        member.user_id,
    )
    [run] = StepRun.objects.filter(enrolment=enrolment)
    assert (run.status, run.reason) == (StepRun.Status.TASK, "")
    assert _state(enrolment) == (Enrolment.State.FINISHED, "")


def test_a_task_step_for_a_contact_whose_owner_left_goes_to_the_enroller(
    alpha: Workspace,
) -> None:
    from tenants.models import Membership

    rep = alpha.members[Role.SALES_REP]
    contact = _contact(alpha, "left@example.com", owner=rep.user)
    Membership.objects.filter(pk=rep.pk).update(status=Membership.Status.DEACTIVATED)
    _enrolment, outcome = _run_task_step(
        alpha, contact, creator=Role.MARKETER, enroller=Role.MANAGER
    )
    assert outcome == {"task": 1}
    [created] = Task.objects.filter(contact=contact)
    assert created.owner_id == alpha.members[Role.MANAGER].user_id


def test_a_task_step_with_nobody_to_give_it_to_is_skipped_and_the_contact_moves_on(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    contact = _contact(alpha, "orphan@example.com", owner=None)
    actor = _marketer(alpha)
    sequence = services.sequence_create(
        actor=actor,
        name="Nobody works tasks",
        steps=[task(delay_amount=1, delay_unit="hours"), email(delay_amount=1)],
    )
    sequence = services.sequence_activate(actor=actor, sequence=sequence)
    enrolment = services.enrol_contact(
        actor=actor, sequence=sequence, contact_id=contact.pk, now=T0
    )
    assert _sweep(T0 + DAY) == {"skipped": 1}
    assert not Task.objects.filter(contact=contact).exists()
    [run] = StepRun.objects.filter(enrolment=enrolment)
    assert (run.status, run.reason) == (StepRun.Status.SKIPPED, "no_owner")
    # The next step still runs.
    assert _sweep(T0 + 2 * DAY + datetime.timedelta(hours=2)) == {"sent": 1}
    assert smtp_sink.to() == ["orphan@example.com"]


def test_business_days_skip_the_weekend_in_the_contacts_calendar() -> None:
    import zoneinfo

    rome = zoneinfo.ZoneInfo("Europe/Rome")
    friday = datetime.datetime(2026, 6, 12, 16, 0, tzinfo=rome)
    due = step_due(anchor=friday, amount=1, unit="business_days", zone=rome)
    assert due.astimezone(rome) == datetime.datetime(2026, 6, 15, 16, 0, tzinfo=rome)
    due = step_due(anchor=friday, amount=3, unit="business_days", zone=rome)
    assert due.astimezone(rome).date() == datetime.date(2026, 6, 17)
    assert step_due(anchor=friday, amount=1, unit="days", zone=rome) == friday + DAY
    assert step_due(anchor=friday, amount=5, unit="hours", zone=rome) == friday + 5 * (DAY / 24)


def test_quiet_hours_and_the_cap_defer_an_email_without_dropping_it(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    PressureSettings.objects.filter(pk=1).update(
        quiet_start=datetime.time(21), quiet_end=datetime.time(8), cap_messages=1, cap_days=7
    )
    sequence = _sequence(alpha, email())
    contact = _contact(alpha, time_zone="Asia/Bangkok")
    night = datetime.datetime(2026, 6, 10, 16, 0, tzinfo=datetime.UTC)  # 23:00 in Bangkok
    enrolment = _enrol(alpha, sequence, contact, at=night)
    assert _sweep(night) == {"deferred": 1}
    enrolment.refresh_from_db()
    morning = datetime.datetime(2026, 6, 11, 1, 0, tzinfo=datetime.UTC)  # 08:00 in Bangkok
    assert enrolment.due_at == morning
    assert smtp_sink.messages == []

    # Another message took the only slot of the cap: deferred to when the window frees one.
    ContactTouch.objects.create(
        contact=contact, channel="email", purpose="one_to_one", source="sales:1", at=morning
    )
    assert _sweep(morning) == {"deferred": 1}
    enrolment.refresh_from_db()
    assert enrolment.due_at == morning + 7 * DAY
    assert enrolment.state == Enrolment.State.ACTIVE
    assert smtp_sink.messages == []
    assert _sweep(morning + 7 * DAY) == {"sent": 1}
    assert len(smtp_sink.messages) == 1


def test_two_sweeps_never_claim_the_same_enrolment(alpha: Workspace) -> None:
    sequence = _sequence(alpha, email())
    for i in range(3):
        _enrol(alpha, sequence, _contact(alpha, f"c{i}@example.com"))
    first = running.claim(now=T0, limit=2)
    second = running.claim(now=T0, limit=10)
    assert len(first) == 2
    assert len(second) == 1
    assert not set(first) & set(second)
    # Within the lease nobody claims them again; after it, they are due again.
    assert running.claim(now=T0 + datetime.timedelta(minutes=1), limit=10) == []
    assert len(running.claim(now=T0 + datetime.timedelta(minutes=6), limit=10)) == 3


def test_a_run_left_sending_by_a_killed_worker_is_never_sent_again(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    sequence = _sequence(alpha, email(), task(delay_amount=1))
    enrolment = _enrol(alpha, sequence, _contact(alpha))
    step = SequenceStep.objects.get(sequence=sequence, position=1)
    StepRun.objects.create(enrolment=enrolment, step=step, status=StepRun.Status.SENDING, at=T0)
    assert _sweep(T0) == {"skipped": 1}
    assert smtp_sink.messages == []
    run = StepRun.objects.get(enrolment=enrolment, step=step)
    assert (run.status, run.reason) == (StepRun.Status.FAILED, "interrupted")
    enrolment.refresh_from_db()
    assert enrolment.next_position == 2


def test_conditions_on_the_previous_email_and_the_lifecycle_stage(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    sequence = _sequence(
        alpha,
        email(subject="First"),
        email(subject="Nudge", delay_amount=1, delay_unit="days", condition="not_opened"),
        email(
            subject="For leads",
            delay_amount=1,
            delay_unit="days",
            condition="lifecycle_is",
            condition_value="lead",
        ),
    )
    opened = _contact(alpha, "opened@example.com", lifecycle_stage="subscriber")
    silent = _contact(alpha, "silent@example.com", lifecycle_stage="lead")
    first = _enrol(alpha, sequence, opened)
    _enrol(alpha, sequence, silent)
    assert _sweep(T0) == {"sent": 2}
    run = StepRun.objects.get(enrolment=first)
    tracking.run_opened(run, at=T0 + datetime.timedelta(hours=1))
    assert _sweep(T0 + DAY) == {"sent": 1, "skipped": 1}
    assert _sweep(T0 + 2 * DAY) == {"sent": 1, "skipped": 1}
    sent = [(str(m["To"]), str(m["Subject"])) for m in smtp_sink.messages]
    assert sorted(sent) == [
        ("opened@example.com", "First"),
        ("silent@example.com", "First"),
        ("silent@example.com", "For leads"),
        ("silent@example.com", "Nudge"),
    ]
    skipped = StepRun.objects.filter(enrolment=first, status=StepRun.Status.SKIPPED)
    assert sorted(skipped.values_list("reason", flat=True)) == ["condition", "condition"]


# --- exits ------------------------------------------------------------------------------------


def _exit_entries(contact: Contact) -> list[str]:
    return [entry.outcome for entry in timeline(contact) if entry.kind == "sequence_exit"]


@pytest.fixture
def enrolled(alpha: Workspace) -> tuple[Enrolment, Contact]:
    sequence = _sequence(alpha, email(), task(delay_amount=3))
    contact = _contact(alpha)
    return _enrol(alpha, sequence, contact), contact


def test_a_reply_from_the_contact_ends_the_enrolment(
    alpha: Workspace, enrolled: tuple[Enrolment, Contact]
) -> None:
    enrolment, contact = enrolled
    # An outbound email is no reply.
    activity_log(kind="email", author=None, concerns=[contact], direction="outbound")
    assert _state(enrolment) == (Enrolment.State.ACTIVE, "")
    activity_log(kind="email", author=None, concerns=[contact], direction="inbound")
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.REPLIED)
    assert _exit_entries(contact) == [Reason.REPLIED]


def test_a_meeting_ends_the_enrolment(
    alpha: Workspace, enrolled: tuple[Enrolment, Contact]
) -> None:
    enrolment, contact = enrolled
    activity_log(kind="meeting", author=alpha.owner.user, concerns=[contact])
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.MEETING)
    assert _exit_entries(contact) == [Reason.MEETING]


def test_becoming_a_customer_ends_the_enrolment(
    alpha: Workspace, enrolled: tuple[Enrolment, Contact]
) -> None:
    enrolment, contact = enrolled
    contact_update(
        actor=fresh(alpha.owner), contact=contact, changes={"lifecycle_stage": "opportunity"}
    )
    assert _state(enrolment) == (Enrolment.State.ACTIVE, "")
    contact_update(
        actor=fresh(alpha.owner), contact=contact, changes={"lifecycle_stage": "customer"}
    )
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.CUSTOMER)
    assert _exit_entries(contact) == [Reason.CUSTOMER]


def test_a_ticket_opened_by_the_contact_ends_the_enrolment(
    alpha: Workspace, enrolled: tuple[Enrolment, Contact]
) -> None:
    enrolment, contact = enrolled
    ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]), subject="Не работает", contact_id=contact.pk
    )
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.TICKET)
    assert _exit_entries(contact) == [Reason.TICKET]


def test_unsubscribing_ends_the_enrolment(
    alpha: Workspace, enrolled: tuple[Enrolment, Contact]
) -> None:
    enrolment, contact = enrolled
    contact_consent_by_recipient(
        contact=contact,
        channel="email",
        status=Consent.Status.WITHDRAWN,
        method="one-click unsubscribe",
        ip_address=None,
        user_agent="",
    )
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.UNSUBSCRIBED)
    assert _exit_entries(contact) == [Reason.UNSUBSCRIBED]


def test_a_suppressed_address_ends_the_enrolment_at_its_next_email(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    sequence = _sequence(alpha, email())
    contact = _contact(alpha)
    enrolment = _enrol(alpha, sequence, contact)
    address_suppress(channel="email", address="ann@example.com", reason="complaint")
    assert _sweep(T0) == {"exited": 1}
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.UNSUBSCRIBED)
    assert smtp_sink.messages == []


def test_a_change_that_announced_nothing_still_ends_the_enrolment_before_the_next_step(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    sequence = _sequence(alpha, email())
    contact = _contact(alpha)
    enrolment = _enrol(alpha, sequence, contact)
    # A bulk path that writes the stage directly, without the contact event.
    Contact.objects.filter(pk=contact.pk).update(lifecycle_stage="customer")
    assert _sweep(T0) == {"exited": 1}
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.CUSTOMER)
    assert smtp_sink.messages == []


def test_pause_resume_and_remove(alpha: Workspace, enrolled: tuple[Enrolment, Contact]) -> None:
    enrolment, contact = enrolled
    actor = _marketer(alpha)
    services.enrolment_pause(actor=actor, enrolment=enrolment)
    assert _sweep(T0) == {}
    services.enrolment_resume(actor=actor, enrolment=enrolment, now=T0 + DAY)
    enrolment.refresh_from_db()
    assert (enrolment.state, enrolment.due_at) == (Enrolment.State.ACTIVE, T0 + DAY)
    services.enrolment_remove(actor=actor, enrolment=enrolment)
    assert _state(enrolment) == (Enrolment.State.EXITED, Reason.REMOVED)
    with pytest.raises(ServiceError):
        services.enrolment_remove(actor=actor, enrolment=enrolment)
    # Ended: the contact may be enrolled again.
    _enrol(alpha, Sequence.objects.get(pk=enrolment.sequence_id), contact)


# --- figures, tracking, pages, API ------------------------------------------------------------


def test_the_figures_count_enrolled_active_replied_and_exited(
    alpha: Workspace, enrolled: tuple[Enrolment, Contact]
) -> None:
    enrolment, contact = enrolled
    other = _enrol(alpha, Sequence.objects.get(pk=enrolment.sequence_id), _contact(alpha, "b@x.io"))
    activity_log(kind="message", author=None, concerns=[contact], direction="inbound")
    stats = selectors.sequence_stats([enrolment.sequence_id])[enrolment.sequence_id]
    assert stats == {"enrolled": 2, "active": 1, "replied": 1, "exited": 1, "finished": 0}
    assert other.state == Enrolment.State.ACTIVE


def test_tracking_tokens_are_signed_and_bound_to_the_workspace(
    alpha: Workspace, smtp_sink: Sink
) -> None:
    sequence = _sequence(alpha, email())
    enrolment = _enrol(alpha, sequence, _contact(alpha))
    _sweep(T0)
    run = StepRun.objects.get(enrolment=enrolment)
    schema = alpha.tenant.schema_name
    client = Client(HTTP_HOST=alpha.host, HTTP_USER_AGENT="Mozilla/5.0")
    assert client.get(f"/marketing/t/so/{tracking.open_token(schema, run.pk)}/").status_code == 200
    for token in (
        tracking.open_token("bravo", run.pk),
        tracking.open_token(schema, run.pk)[:-2] + "xx",
        f"{run.pk}",
    ):
        assert client.get(f"/marketing/t/so/{token}/").status_code == 404
    click = client.get(f"/marketing/t/sc/{tracking.click_token(schema, run.pk, 0)}/")
    assert (click.status_code, click["Location"]) == (302, "https://example.com/demo")
    assert (
        client.get(f"/marketing/t/sc/{tracking.click_token(schema, run.pk, 5)}/").status_code == 404
    )
    run.refresh_from_db()
    assert run.opened_at is not None
    html_part = smtp_sink.messages[0].get_body(("html",))
    assert html_part is not None
    sent_html = html_part.get_content()
    assert tracking.open_token(schema, run.pk) in sent_html


def test_pages_answer_each_role(alpha: Workspace) -> None:
    sequence = _sequence(alpha, email())
    contact = _contact(alpha)
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    reader = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    listing = reader.get("/marketing/sequences/")
    assert listing.status_code == 200
    assert b"Welcome" in listing.content
    assert b"new-sequence" not in listing.content
    assert reader.get("/marketing/sequences/new/").status_code == 403
    assert rep.get("/marketing/sequences/new/").status_code == 403
    assert (
        reader.post(
            "/marketing/sequences/enrol/", {"sequence": sequence.pk, "contact": contact.pk}
        ).status_code
        == 403
    )
    assert not Enrolment.objects.exists()
    response = rep.post(
        "/marketing/sequences/enrol/",
        {"sequence": sequence.pk, "contact": contact.pk, "next": f"/sales/contacts/{contact.pk}/"},
    )
    assert (response.status_code, response["Location"]) == (302, f"/sales/contacts/{contact.pk}/")
    assert Enrolment.objects.filter(contact=contact).count() == 1
    page = record_page(rep, f"/sales/contacts/{contact.pk}/")
    assert 'data-testid="contact-sequences"' in page
    detail = marketer.get(f"/marketing/sequences/{sequence.pk}/")
    assert b'data-state="active"' in detail.content
    fragment = marketer.get(
        f"/marketing/sequences/{sequence.pk}/?state=exited", HTTP_HX_REQUEST="true"
    )
    assert b"Nobody is enrolled yet." in fragment.content


def test_the_editor_names_the_broken_step_and_keeps_the_input(alpha: Workspace) -> None:
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    response = marketer.post(
        "/marketing/sequences/new/",
        {
            "name": "Benvenuto",
            "step-1-kind": "email",
            "step-1-delay_amount": "0",
            "step-1-delay_unit": "hours",
            "step-1-condition": "always",
            "step-1-subject": "Ciao",
            "step-1-body": "<p>Ciao {{ nome }}</p>",
        },
    )
    assert response.status_code == 400
    assert b"Step 1" in response.content
    assert b"{{ nome }}" in response.content
    assert not Sequence.objects.filter(name="Benvenuto").exists()
    response = marketer.post(
        "/marketing/sequences/new/",
        {
            "name": "Benvenuto",
            "step-1-kind": "email",
            "step-1-delay_amount": "0",
            "step-1-delay_unit": "hours",
            "step-1-condition": "always",
            "step-1-subject": "Ciao",
            "step-1-body": "<p>Ciao {{ first_name }}</p>",
            "step-2-kind": "task",
            "step-2-delay_amount": "2",
            "step-2-delay_unit": "business_days",
            "step-2-condition": "always",
            "step-2-task_title": "Chiamare",
        },
    )
    assert response.status_code == 302
    sequence = Sequence.objects.get(name="Benvenuto")
    assert SequenceStep.objects.filter(sequence=sequence).count() == 2


def test_the_api_creates_enrols_and_refuses_with_reasons(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    created = client.post(
        "/api/v1/marketing/sequences/",
        {
            "name": "API",
            "steps": [{"kind": "email", "delay_amount": 0, "subject": "Hi", "body": "<p>x</p>"}],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    sequence_id = created.json()["id"]
    bad = client.post(
        "/api/v1/marketing/sequences/",
        {"name": "API", "steps": [{"kind": "email", "subject": "{{ x }}", "body": "<p>x</p>"}]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "steps[0].subject" in bad.json()["error"]["fields"]
    assert "{{ x }}" in bad.json()["error"]["message"]
    assert client.post(f"/api/v1/marketing/sequences/{sequence_id}/activate/").status_code == 200
    contact = _contact(alpha)
    enrol = client.post(
        f"/api/v1/marketing/sequences/{sequence_id}/enrolments/",
        {"contacts": [contact.pk, contact.pk + 10_000]},
        content_type="application/json",
    )
    assert enrol.status_code == 200
    assert enrol.json()["enrolled"] == [contact.pk]
    assert enrol.json()["refused"] == [
        {"contact": contact.pk + 10_000, "reason": "No such contact."}
    ]
    listing = client.get(f"/api/v1/marketing/sequences/{sequence_id}/enrolments/")
    assert [row["state"] for row in listing.json()["results"]] == ["active"]
    assert client.get("/api/v1/marketing/sequences/").json()["results"][0]["stats"]["active"] == 1


def test_a_read_only_member_may_not_create_through_the_api(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    response = client.post(
        "/api/v1/marketing/sequences/",
        {"name": "No", "steps": [{"kind": "task", "task_title": "x"}]},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not Sequence.objects.filter(name="No").exists()


def test_the_sweep_of_another_workspace_touches_nothing_here(
    alpha: Workspace, bravo: Workspace
) -> None:
    from django.db import connection

    sequence = _sequence(alpha, email())
    enrolment = _enrol(alpha, sequence, _contact(alpha))
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    try:
        assert running.sequences_run_due(now=T0 + DAY) == {}
    finally:
        connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert _state(enrolment) == (Enrolment.State.ACTIVE, "")
    assert not StepRun.objects.exists()
