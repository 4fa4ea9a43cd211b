"""Event triggers (ADR 0042): rules as checked JSON, refused when they would loop, evaluated
after commit from the events other modules announce, delayed actions run by the sweep, each
(rule, contact, occurrence) once, a run-time guard against runaway chains, consent honoured
for email while the other actions still run, every firing on the contact's timeline and in
the rule's run log."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from crm_modules.activities.models import Activity, ActivityLink
from crm_modules.marketing.models import (
    ContactTouch,
    Segment,
    SegmentMember,
)
from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.triggers import engine, services
from crm_modules.marketing.triggers.tasks import trigger_sweep
from crm_modules.reporting.models import ExchangeRate
from crm_modules.sales.models import Contact, Deal, Stage, Task
from crm_modules.sales.services import contact_update, deal_move_stage
from crm_modules.sales.services.contacts import contact_set_consent
from crm_modules.sales.services.custom_fields import (
    custom_field_archive,
    custom_field_create,
    custom_field_delete,
)
from crm_platform.errors import ServiceError
from tenants.models import Membership, WorkspaceAlarm
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import open_contact_rules
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory, DealFactory, PipelineFactory
from tests.service.conftest import customer

pytestmark = pytest.mark.usefixtures("in_alpha")

GOLD = {
    "when": {"threshold": {"field": "won_revenue", "crosses": 1000}},
    "actions": [
        {"type": "add_tag", "tag": "Gold"},
        {
            "type": "send_email",
            "subject": "Welcome to Gold, {{ first_name }}",
            "body": 'Dear {{ first_name | default:"customer" }}, you are Gold now.',
        },
        {"type": "create_task", "title": "Call our new Gold customer", "due_in_days": 1},
    ],
}


def _manager(alpha: Workspace) -> Membership:
    return fresh(alpha.members[Role.MANAGER])


def _tag_rule(actor: Membership, name: str, on: str, add: str) -> TriggerRule:
    return services.trigger_rule_create(
        actor=actor,
        name=name,
        definition={
            "when": {"event": "sales.tag_added", "match": {"tag": on}},
            "actions": [{"type": "add_tag", "tag": add}],
        },
    )


def _win(
    actor: Membership, contact: Contact, amount: str, capture: Any, currency: str = "USD"
) -> Deal:
    pipeline = PipelineFactory.create()
    deal = DealFactory.create(
        pipeline=pipeline, amount=Decimal(amount), currency=currency, owner=actor.user
    )
    deal.contacts.add(contact)
    won = Stage.objects.get(pipeline=pipeline, kind=Stage.Kind.WON)
    with capture(execute=True):
        deal_move_stage(actor=actor, deal=deal, stage=won.pk)
    return deal


def _tag(actor: Membership, contact: Contact, tags: list[str], capture: Any) -> Contact:
    with capture(execute=True):
        return contact_update(actor=actor, contact=contact, changes={"tags": tags})


# --- the Gold example -------------------------------------------------------------------------


def test_crossing_1000_of_won_revenue_tags_emails_and_gives_the_owner_a_task(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    open_contact_rules()
    manager = _manager(alpha)
    owner = alpha.members[Role.SALES_REP].user
    rule = services.trigger_rule_create(
        actor=fresh(alpha.members[Role.MARKETER]), name="Gold", definition=GOLD
    )
    contact = customer("ada@example.com", first_name="Ada", owner=owner)

    _win(manager, contact, "600.00", django_capture_on_commit_callbacks)
    assert not TriggerFiring.objects.filter(rule=rule).exists()
    assert mail.outbox == []

    _win(manager, contact, "500.00", django_capture_on_commit_callbacks)
    [firing] = TriggerFiring.objects.filter(rule=rule)
    assert firing.status == TriggerFiring.Status.DONE
    assert [item["status"] for item in firing.outcome] == ["done", "done", "done"]
    contact.refresh_from_db()
    assert contact.tags == ["Gold"]
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Welcome to Gold, Ada"
    assert "Dear Ada, you are Gold now." in message.body
    [touch] = ContactTouch.objects.filter(contact_id=contact.pk)
    assert touch.source == f"trigger:{rule.pk}"
    [task] = Task.objects.filter(contact=contact)
    assert task.title == "Call our new Gold customer"
    assert task.owner_id == owner.pk
    # On the contact's timeline.
    entry = Activity.objects.get(kind="trigger_fired", data__firing=firing.pk)
    assert entry.subject == "Automation: Gold"
    assert ActivityLink.objects.filter(
        activity=entry, target_type="sales.contact", target_id=contact.pk
    ).exists()

    # A third won deal: the threshold was crossed once, nothing fires again.
    _win(manager, contact, "5000.00", django_capture_on_commit_callbacks)
    assert TriggerFiring.objects.filter(rule=rule).count() == 1
    assert len(mail.outbox) == 1


def test_won_revenue_in_other_currencies_counts_at_the_rate_of_its_day(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """A USD workspace: 600 USD and 380 EUR at 1.1 are 1,018 USD, which crosses 1,000 (the
    amounts alone add up to 980); a deal in a currency without a rate is not counted."""
    assert alpha.tenant.currency == "USD"
    open_contact_rules()
    manager = _manager(alpha)
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.1"), valid_from=datetime.date(2000, 1, 1)
    )
    rule = services.trigger_rule_create(
        actor=fresh(alpha.members[Role.MARKETER]), name="Gold", definition=GOLD
    )
    contact = customer(
        "ada@example.com", first_name="Ada", owner=alpha.members[Role.SALES_REP].user
    )

    _win(manager, contact, "600.00", django_capture_on_commit_callbacks)
    _win(manager, contact, "99999.00", django_capture_on_commit_callbacks, currency="THB")
    assert not TriggerFiring.objects.filter(rule=rule).exists()
    _win(manager, contact, "380.00", django_capture_on_commit_callbacks, currency="EUR")
    [firing] = TriggerFiring.objects.filter(rule=rule)
    assert firing.status == TriggerFiring.Status.DONE


def test_without_consent_the_email_is_skipped_with_the_reason_and_the_rest_runs(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    open_contact_rules()
    manager = _manager(alpha)
    rule = services.trigger_rule_create(actor=manager, name="Gold", definition=GOLD)
    contact = customer("no@example.com", first_name="Nadia", owner=manager.user)
    contact_set_consent(
        actor=manager, contact=contact, channel="email", status="withdrawn", method="phone call"
    )

    _win(manager, contact, "1500.00", django_capture_on_commit_callbacks)

    [firing] = TriggerFiring.objects.filter(rule=rule)
    assert firing.status == TriggerFiring.Status.PARTIAL
    assert [(item["action"], item["status"]) for item in firing.outcome] == [
        ("add_tag", "done"),
        ("send_email", "skipped"),
        ("create_task", "done"),
    ]
    assert firing.outcome[1]["message"] == "The contact withdrew consent."
    assert mail.outbox == []
    assert not ContactTouch.objects.filter(contact_id=contact.pk).exists()
    contact.refresh_from_db()
    assert contact.tags == ["Gold"]
    assert Task.objects.filter(contact=contact).count() == 1


# --- delays and the sweep ----------------------------------------------------------------------


def test_three_days_after_a_ticket_is_solved_the_sweep_asks_for_feedback(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from crm_modules.service import services as service

    open_contact_rules()
    rule = services.trigger_rule_create(
        actor=_manager(alpha),
        name="Feedback",
        definition={
            "when": {"event": "service.ticket_solved"},
            "delay_minutes": 3 * 24 * 60,
            "actions": [
                {
                    "type": "send_email",
                    "subject": "How are things, {{ first_name }}?",
                    "body": "Tell us how we did.",
                    "purpose": "transactional",
                }
            ],
        },
    )
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    contact = customer("eva@example.com", first_name="Eva")
    ticket = service.ticket_create(
        actor=agent, subject="Broken", contact_id=contact.pk, assignee_id=agent.user_id
    )
    with django_capture_on_commit_callbacks(execute=True):
        service.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    [firing] = TriggerFiring.objects.filter(rule=rule)
    assert firing.status == TriggerFiring.Status.PENDING
    due = firing.due_at
    assert datetime.timedelta(days=3) - datetime.timedelta(minutes=1) < due - timezone.now()
    alarm = WorkspaceAlarm.objects.get(
        kind=engine.SWEEP_ALARM, schema_name=alpha.tenant.schema_name
    )
    assert alarm.due_at == due

    def asked() -> list[Any]:
        return [m for m in mail.outbox if m.subject == "How are things, Eva?"]

    assert engine.run_due(now=due - datetime.timedelta(minutes=1)) == 0
    assert asked() == []
    # The beat task visits the workspace once its alarm is due.
    WorkspaceAlarm.objects.filter(pk=alarm.pk).update(due_at=timezone.now())
    TriggerFiring.objects.filter(pk=firing.pk).update(due_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert trigger_sweep() == 1
    firing.refresh_from_db()
    assert firing.status == TriggerFiring.Status.DONE
    assert len(asked()) == 1
    # Run again: nothing more.
    assert engine.run_due(now=timezone.now()) == 0
    assert len(asked()) == 1
    assert not WorkspaceAlarm.objects.filter(pk=alarm.pk).exists()


def test_a_rule_switched_off_before_its_delay_cancels_what_waits(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    manager = _manager(alpha)
    rule = services.trigger_rule_create(
        actor=manager,
        name="Later",
        definition={
            "when": {"event": "sales.tag_added", "match": {"tag": "trial"}},
            "delay_minutes": 60,
            "actions": [{"type": "add_tag", "tag": "nurture"}],
        },
    )
    contact = ContactFactory.create(owner=manager.user)
    _tag(manager, contact, ["trial"], django_capture_on_commit_callbacks)
    services.trigger_rule_update(actor=manager, rule=rule, active=False)
    later = timezone.now() + datetime.timedelta(hours=2)
    assert engine.run_due(now=later) == 1
    firing = TriggerFiring.objects.get(rule=rule)
    assert firing.status == TriggerFiring.Status.CANCELED
    contact.refresh_from_db()
    assert contact.tags == ["trial"]


# --- events from every module ------------------------------------------------------------------


def test_lifecycle_tag_and_form_events_with_unicode_tags(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    manager = _manager(alpha)
    segment = Segment.objects.create(name="Клиенты", kind="static", created_by=manager.user)
    services.trigger_rule_create(
        actor=manager,
        name="Customers",
        definition={
            "when": {"event": "sales.lifecycle_changed", "match": {"to": "customer"}},
            "actions": [{"type": "add_tag", "tag": "ลูกค้า"}],
        },
    )
    services.trigger_rule_create(
        actor=manager,
        name="Thai tag → list",
        definition={
            "when": {"event": "sales.tag_added", "match": {"tag": "  ลูกค้า "}},
            "actions": [
                {"type": "add_to_list", "segment": segment.pk},
                {"type": "add_tag", "tag": "老客户"},
            ],
        },
    )
    contact = ContactFactory.create(owner=manager.user)
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(actor=manager, contact=contact, changes={"lifecycle_stage": "customer"})
    contact.refresh_from_db()
    assert contact.tags == ["ลูกค้า", "老客户"]
    assert SegmentMember.objects.filter(segment=segment, contact=contact).exists()
    chained = TriggerFiring.objects.get(rule__name="Thai tag → list")
    assert chained.chain == [TriggerRule.objects.get(name="Customers").pk]


def test_a_reply_on_the_timeline_fires_rules_on_contact_replied_once_per_entry(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from crm_modules.activities.api import ActivityInput, activities_log_many, activity_log

    manager = _manager(alpha)
    services.trigger_rule_create(
        actor=manager,
        name="Replied",
        definition={
            "when": {"event": "contact.replied"},
            "actions": [{"type": "add_tag", "tag": "replied"}],
        },
    )
    first, second = ContactFactory.create_batch(2, owner=manager.user)
    with django_capture_on_commit_callbacks(execute=True):
        # An outbound email is no reply.
        activity_log(kind="email", author=None, concerns=[first], direction="outbound")
    assert TriggerFiring.objects.count() == 0
    when = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        # Two inbound emails in one batch (an import): each is its own happening.
        activities_log_many(
            [
                ActivityInput(
                    kind="email",
                    concerns=(("sales.contact", first.pk), ("sales.contact", second.pk)),
                    occurred_at=when,
                    direction="inbound",
                ),
                ActivityInput(
                    kind="email",
                    concerns=(("sales.contact", first.pk),),
                    occurred_at=when,
                    direction="inbound",
                ),
            ]
        )
    firings = list(TriggerFiring.objects.values_list("contact_id", "occurrence"))
    assert len(firings) == 3
    assert sorted(contact for contact, _o in firings) == sorted([first.pk, first.pk, second.pk])
    assert len({occurrence for _c, occurrence in firings}) == 2
    assert set(TriggerFiring.objects.values_list("status", flat=True)) == {"done"}
    for contact in (first, second):
        contact.refresh_from_db()
        assert contact.tags == ["replied"]


def test_a_form_submission_fires_rules_on_that_form(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from crm_modules.marketing.capture.submit import form_submit
    from crm_modules.marketing.models_capture import Form

    manager = _manager(alpha)
    form = Form.objects.create(
        name="Demo",
        fields=[{"target": "email", "label": "Email", "required": True}],
        lead_owner=alpha.members[Role.SALES_REP].user,
    )
    services.trigger_rule_create(
        actor=manager,
        name="Demo asked",
        definition={
            "when": {"event": "marketing.form_submitted", "match": {"form": str(form.pk)}},
            "actions": [{"type": "add_tag", "tag": "demo"}],
        },
    )
    contact = customer("form@example.com", owner=manager.user)
    with django_capture_on_commit_callbacks(execute=True):
        form_submit(form=form, answers={"email": "form@example.com"}, touch={}, consents=[])
    contact.refresh_from_db()
    assert contact.tags == ["demo"]


def test_a_number_custom_field_crossing_its_threshold_fires_once(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    owner = fresh(alpha.members[Role.OWNER])
    custom_field_create(actor=owner, entity="contact", code="orders", label="Orders", type="number")
    rule = services.trigger_rule_create(
        actor=owner,
        name="Ten orders",
        definition={
            "when": {"threshold": {"field": "custom.orders", "crosses": 10}},
            "actions": [{"type": "add_tag", "tag": "loyal"}],
        },
    )
    contact = ContactFactory.create(owner=owner.user)
    for orders in (9, 12, 8, 15):
        with django_capture_on_commit_callbacks(execute=True):
            contact = contact_update(
                actor=owner, contact=contact, changes={"custom_fields": {"orders": orders}}
            )
    assert TriggerFiring.objects.filter(rule=rule).count() == 1
    contact.refresh_from_db()
    assert contact.tags == ["loyal"]


def test_a_rule_whose_custom_field_was_deleted_fails_once_saying_why(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    owner = fresh(alpha.members[Role.OWNER])
    field = custom_field_create(
        actor=owner, entity="contact", code="visits", label="Visits", type="number"
    )
    rule = services.trigger_rule_create(
        actor=owner,
        name="Visits",
        definition={
            "when": {"threshold": {"field": "custom.visits", "crosses": 3}},
            "actions": [{"type": "add_tag", "tag": "regular"}],
        },
    )
    # Values stay in the contact's data after the field goes; the rule no longer applies.
    contact = ContactFactory.create(owner=owner.user, custom={"visits": 1})
    custom_field_delete(actor=owner, field=field)
    engine.evaluate(
        kind="sales.field_changed",
        contact_id=contact.pk,
        occurrence="x",
        data={"field": "custom.visits", "from": "1", "to": "5"},
        chain=[],
    )
    [firing] = TriggerFiring.objects.filter(rule=rule)
    assert firing.status == TriggerFiring.Status.FAILED
    assert firing.reason == "The custom field custom.visits was deleted; the rule cannot run."
    contact.refresh_from_db()
    assert contact.tags == []
    # And a new rule on it is refused.
    with pytest.raises(ServiceError) as refused:
        services.trigger_rule_create(
            actor=owner,
            name="Visits again",
            definition={
                "when": {"threshold": {"field": "custom.visits", "crosses": 3}},
                "actions": [{"type": "add_tag", "tag": "regular"}],
            },
        )
    assert refused.value.message == "The custom field custom.visits does not exist (any more)."


def test_an_archived_number_field_is_not_offered_for_a_new_threshold_but_its_rule_runs(
    alpha: Workspace,
) -> None:
    owner = fresh(alpha.members[Role.OWNER])
    field = custom_field_create(
        actor=owner, entity="contact", code="visits", label="Visits", type="number"
    )
    custom_field_create(actor=owner, entity="contact", code="orders", label="Orders", type="number")
    definition = {
        "when": {"threshold": {"field": "custom.visits", "crosses": 3}},
        "actions": [{"type": "add_tag", "tag": "regular"}],
    }
    rule = services.trigger_rule_create(actor=owner, name="Visits", definition=definition)
    contact = ContactFactory.create(owner=owner.user, custom={"visits": 1})

    custom_field_archive(actor=owner, field=field, archived=True)

    with pytest.raises(ServiceError) as refused:
        services.trigger_rule_create(actor=owner, name="Visits again", definition=definition)
    assert refused.value.field == "definition"
    assert "custom.visits is archived" in refused.value.message
    # The stored rule can still be changed and still runs.
    services.trigger_rule_update(
        actor=owner,
        rule=rule,
        definition={**definition, "actions": [{"type": "add_tag", "tag": "frequent"}]},
    )
    engine.evaluate(
        kind="sales.field_changed",
        contact_id=contact.pk,
        occurrence="visits:5",
        data={"field": "custom.visits", "from": "1", "to": "5"},
        chain=[],
    )
    [firing] = TriggerFiring.objects.filter(rule=rule)
    assert firing.status == TriggerFiring.Status.DONE
    contact.refresh_from_db()
    assert contact.tags == ["frequent"]
    form = workspace_client(owner.user, alpha.tenant).get("/marketing/triggers/new/")
    assert "<code>custom.orders</code> — Orders" in form.content.decode()
    assert "custom.visits" not in form.content.decode()


# --- loops -------------------------------------------------------------------------------------


def test_a_rule_that_would_set_itself_off_is_refused_naming_it(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as refused:
        _tag_rule(_manager(alpha), "Echo", on="Gold", add="Gold")
    assert refused.value.code == "loop"
    assert refused.value.message == "These rules would set each other off in a loop: Echo → Echo."
    assert not TriggerRule.objects.exists()


def test_a_cycle_of_rules_is_refused_naming_every_rule_in_it(alpha: Workspace) -> None:
    manager = _manager(alpha)
    _tag_rule(manager, "A tags B", on="a", add="b")
    _tag_rule(manager, "B tags C", on="b", add="c")
    with pytest.raises(ServiceError) as refused:
        _tag_rule(manager, "C tags A", on="c", add="a")
    assert refused.value.message == (
        "These rules would set each other off in a loop: C tags A → A tags B → B tags C → C tags A."
    )
    assert TriggerRule.objects.count() == 2
    # Switching a rule of the loop off lets the last one in; switching it on again is refused.
    first = TriggerRule.objects.get(name="A tags B")
    services.trigger_rule_update(actor=manager, rule=first, active=False)
    _tag_rule(manager, "C tags A", on="c", add="a")
    with pytest.raises(ServiceError) as again:
        services.trigger_rule_update(actor=manager, rule=first, active=True)
    assert "A tags B → B tags C → C tags A → A tags B" in again.value.message
    first.refresh_from_db()
    assert first.active is False


def test_a_lifecycle_cycle_is_found_too(alpha: Workspace) -> None:
    manager = _manager(alpha)
    services.trigger_rule_create(
        actor=manager,
        name="Stage tags",
        definition={
            "when": {"event": "sales.lifecycle_changed", "match": {"to": "customer"}},
            "actions": [{"type": "add_tag", "tag": "buyer"}],
        },
    )
    with pytest.raises(ServiceError) as refused:
        services.trigger_rule_create(
            actor=manager,
            name="Tag stages",
            definition={
                "when": {"event": "sales.tag_added", "match": {"tag": "buyer"}},
                "actions": [{"type": "set_lifecycle", "stage": "customer"}],
            },
        )
    assert "Tag stages → Stage tags → Tag stages" in refused.value.message


def test_at_run_time_a_chain_too_long_is_stopped_and_says_why(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    manager = _manager(alpha)
    for n in range(engine.MAX_DEPTH + 1):
        _tag_rule(manager, f"Step {n}", on=f"t{n}", add=f"t{n + 1}")
    contact = ContactFactory.create(owner=manager.user)
    _tag(manager, contact, ["t0"], django_capture_on_commit_callbacks)
    contact.refresh_from_db()
    assert contact.tags == ["t0", "t1", "t2", "t3"]
    stopped = TriggerFiring.objects.get(rule__name=f"Step {engine.MAX_DEPTH}")
    assert stopped.status == TriggerFiring.Status.STOPPED
    assert stopped.reason == (
        "Chain too long: Step 0 → Step 1 → Step 2 → Step 3 (at most 3 rules in a row)."
    )
    assert stopped.outcome == []


def test_at_run_time_a_loop_saved_before_the_check_is_stopped(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """Rules written straight into the table (a restore from a backup) skip the save check:
    the run-time guard still stops the loop at its first repetition."""
    manager = _manager(alpha)
    for name, on, add in (("Ping", "ping", "pong"), ("Pong", "pong", "ping")):
        TriggerRule.objects.create(
            name=name,
            definition={
                "when": {"event": "sales.tag_added", "match": {"tag": on}},
                "delay_minutes": 0,
                "actions": [{"type": "add_tag", "tag": add}],
            },
            listens_to="sales.tag_added",
            run_as=manager.user,
        )
    contact = ContactFactory.create(owner=manager.user)
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(actor=manager, contact=contact, changes={"tags": ["ping"]})
    contact.refresh_from_db()
    assert contact.tags == ["ping", "pong"]
    statuses = sorted(TriggerFiring.objects.values_list("rule__name", "status"))
    assert statuses == [("Ping", "done"), ("Pong", "done")]
    # Pong found "ping" already there, so no event came back this time. Had the tag been
    # removed in between, the event would carry the chain Ping → Pong:
    pong = TriggerRule.objects.get(name="Pong")
    ping = TriggerRule.objects.get(name="Ping")
    engine.evaluate(
        kind="sales.tag_added",
        contact_id=contact.pk,
        occurrence="again",
        data={"tag": "ping"},
        chain=[ping.pk, pong.pk],
    )
    again = TriggerFiring.objects.get(rule=ping, occurrence="again")
    assert again.status == TriggerFiring.Status.STOPPED
    assert again.reason == "Loop: the rule set itself off again through Ping → Pong → Ping."


def test_the_rate_guard_stops_a_rule_firing_too_often_for_one_contact(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    manager = _manager(alpha)
    rule = services.trigger_rule_create(
        actor=manager,
        name="VIP",
        definition={
            "when": {"event": "sales.tag_added", "match": {"tag": "vip"}},
            "actions": [{"type": "set_lifecycle", "stage": "opportunity"}],
        },
    )
    contact = ContactFactory.create(owner=manager.user)
    for _round in range(engine.RATE_LIMIT + 1):
        contact = _tag(manager, contact, ["vip"], django_capture_on_commit_callbacks)
        contact = _tag(manager, contact, [], django_capture_on_commit_callbacks)
    statuses = list(
        TriggerFiring.objects.filter(rule=rule).order_by("pk").values_list("status", flat=True)
    )
    assert statuses == ["done"] * engine.RATE_LIMIT + ["stopped"]
    last = TriggerFiring.objects.filter(rule=rule).order_by("-pk").first()
    assert last is not None
    assert last.reason == "Rate limit: the rule fired 5 times for this contact in the last hour."


# --- bad definitions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "code", "message"),
    [
        ({}, "when", "when must be an object."),
        (
            {"when": {"event": "sales.deal_deleted"}, "actions": [{"type": "add_tag", "tag": "x"}]},
            "when.event",
            None,
        ),
        (
            {"when": {"threshold": {"field": "won_revenue", "crosses": "a lot"}}, "actions": []},
            "when.threshold.crosses",
            "when.threshold.crosses must be a number.",
        ),
        (
            {"when": {"threshold": {"field": "won_revenue", "crosses": True}}, "actions": []},
            "when.threshold.crosses",
            "when.threshold.crosses must be a number.",
        ),
        (
            {"when": {"threshold": {"field": "won_revenue", "crosses": [1]}}, "actions": []},
            "when.threshold.crosses",
            "when.threshold.crosses must be a number.",
        ),
        (
            {"when": {"threshold": {"field": "won_revenue", "crosses": "NaN"}}, "actions": []},
            "when.threshold.crosses",
            "when.threshold.crosses must be a number.",
        ),
        (
            {
                "when": {"threshold": {"field": "custom.nope; DROP TABLE x", "crosses": 1}},
                "actions": [],
            },
            "when.threshold.field",
            "The custom field custom.nope; DROP TABLE x does not exist (any more).",
        ),
        (
            {
                "when": {"event": "sales.deal_won"},
                "actions": [{"type": "add_tag", "tag": "x"}] * 11,
            },
            "actions",
            "A rule can have at most 10 actions; this one has 11.",
        ),
        (
            {"when": {"event": "sales.deal_won"}, "actions": []},
            "actions",
            "actions must be a list of 1 to 10 actions.",
        ),
        (
            {"when": {"event": "sales.deal_won"}, "actions": [{"type": "drop_table"}]},
            "actions[0].type",
            None,
        ),
        (
            {
                "when": {"event": "sales.deal_won"},
                "actions": [{"type": "add_tag", "tag": "x" * 51}],
            },
            "actions[0].tag",
            "actions[0].tag can be at most 50 characters.",
        ),
        (
            {"when": {"event": "sales.deal_won"}, "actions": [{"type": "add_tag", "tag": "  "}]},
            "actions[0].tag",
            "actions[0].tag is required.",
        ),
        (
            {
                "when": {"event": "sales.deal_won"},
                "actions": [{"type": "send_email", "subject": "Hi {{ password }}", "body": "x"}],
            },
            "actions[0].subject",
            None,
        ),
        (
            {
                "when": {"event": "sales.deal_won"},
                "delay_minutes": -5,
                "actions": [{"type": "add_tag", "tag": "x"}],
            },
            "delay_minutes",
            "delay_minutes must be a whole number from 0 to 525600.",
        ),
        (
            {
                "when": {"event": "sales.deal_won"},
                "actions": [{"type": "add_to_list", "segment": 999999}],
            },
            "actions[0].segment",
            "actions[0].segment must be a static list of this workspace.",
        ),
        (
            {"when": {"event": "sales.deal_won", "sql": "1=1"}, "actions": []},
            "when",
            "when has unknown keys: sql.",
        ),
    ],
)
def test_a_bad_definition_is_refused_naming_the_part_and_nothing_is_saved(
    alpha: Workspace, definition: Any, code: str, message: str | None
) -> None:
    with pytest.raises(ServiceError) as refused:
        services.trigger_rule_create(actor=_manager(alpha), name="Bad", definition=definition)
    assert refused.value.field == "definition"
    assert refused.value.code == code
    if message is not None:
        assert refused.value.message == message
    assert not TriggerRule.objects.exists()


def test_a_threshold_on_a_text_field_is_refused(alpha: Workspace) -> None:
    owner = fresh(alpha.members[Role.OWNER])
    custom_field_create(actor=owner, entity="contact", code="city2", label="Town", type="text")
    with pytest.raises(ServiceError) as refused:
        services.trigger_rule_create(
            actor=owner,
            name="Town",
            definition={
                "when": {"threshold": {"field": "custom.city2", "crosses": 3}},
                "actions": [{"type": "add_tag", "tag": "x"}],
            },
        )
    assert refused.value.message == "The custom field custom.city2 holds Text, not numbers."


# --- exactly once -------------------------------------------------------------------------------


def test_evaluating_one_happening_twice_fires_once(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    manager = _manager(alpha)
    rule = services.trigger_rule_create(
        actor=manager,
        name="Won",
        definition={
            "when": {"event": "sales.deal_won"},
            "actions": [{"type": "create_task", "title": "Thank them", "due_in_days": 0}],
        },
    )
    contact = ContactFactory.create(owner=manager.user)
    event: dict[str, Any] = {
        "kind": "sales.deal_won",
        "contact_id": contact.pk,
        "occurrence": "deal:1",
    }
    first = engine.evaluate(**event, data={"amount": "10"}, chain=[])
    second = engine.evaluate(**event, data={"amount": "10"}, chain=[])
    assert len(first) == 1
    assert second == []
    assert TriggerFiring.objects.filter(rule=rule).count() == 1
    assert Task.objects.filter(contact=contact, title="Thank them").count() == 1


def test_a_member_who_left_makes_the_actions_fail_saying_so(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    manager = _manager(alpha)
    rule = _tag_rule(manager, "Left", on="x", add="y")
    Membership.objects.filter(pk=manager.pk).update(status=Membership.Status.DEACTIVATED)
    contact = ContactFactory.create(owner=alpha.members[Role.OWNER].user, tags=[])
    owner = fresh(alpha.members[Role.OWNER])
    _tag(owner, contact, ["x"], django_capture_on_commit_callbacks)
    firing = TriggerFiring.objects.get(rule=rule)
    assert firing.status == TriggerFiring.Status.FAILED
    assert firing.outcome[0]["message"] == "The member this rule runs as has left the workspace."
    contact.refresh_from_db()
    assert contact.tags == ["x"]


# --- pages and roles ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MARKETER])
def test_marketers_create_rules_from_the_editor(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    response = client.post(
        "/marketing/triggers/new/",
        {
            "name": "<script>alert(1)</script> Золото",
            "active": "on",
            "definition": '{"when": {"event": "sales.deal_won"},'
            ' "actions": [{"type": "add_tag", "tag": "黄金"}]}',
        },
    )
    assert response.status_code == 302
    rule = TriggerRule.objects.get()
    assert response["Location"] == f"/marketing/triggers/{rule.pk}/"
    assert rule.run_as_id == alpha.members[role].user_id
    page = client.get("/marketing/triggers/")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Золото" in page.content.decode()
    assert "<script>alert(1)" not in page.content.decode()


def test_the_rules_list_says_what_sets_each_rule_off_in_words(alpha: Workspace) -> None:
    owner = fresh(alpha.members[Role.OWNER])
    custom_field_create(actor=owner, entity="contact", code="orders", label="Заказы", type="number")
    tag = [{"type": "add_tag", "tag": "x"}]
    whens = {
        "Hot": {"threshold": {"field": "score", "crosses": 50}},
        "Gold": {"threshold": {"field": "won_revenue", "crosses": 1000}},
        "Loyal": {"threshold": {"field": "custom.orders", "crosses": 10}},
        "Won": {"event": "sales.deal_won"},
        "Tagged": {"event": "sales.tag_added", "match": {"tag": "VIP"}},
    }
    rules = {
        name: services.trigger_rule_create(
            actor=owner, name=name, definition={"when": when, "actions": tag}
        )
        for name, when in whens.items()
    }
    client = workspace_client(owner.user, alpha.tenant)

    page = client.get("/marketing/triggers/").content.decode()

    def when_of(name: str) -> str:
        row = page.split(f'data-rule="{rules[name].pk}"', 1)[1].split("</tr>", 1)[0]
        cell = row.split('data-testid="trigger-when">', 1)[1]
        return cell.split("</td>", 1)[0]

    assert when_of("Hot") == "Lead score rises to 50"
    assert when_of("Gold") == "Won revenue reaches 1000"
    assert when_of("Loyal") == "Заказы reaches 10"
    assert when_of("Won") == "Deal won"
    assert when_of("Tagged") == "Tag added: VIP"
    assert "scoring.score_changed" not in page
    assert "sales.deal_won" not in page
    detail = client.get(f"/marketing/triggers/{rules['Hot'].pk}/").content.decode()
    assert '<span data-testid="trigger-when">Lead score rises to 50</span>' in detail
    russian = client.get("/marketing/triggers/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "scoring.score_changed" not in russian
    assert "Lead score rises to 50" not in russian


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SUPPORT_AGENT, Role.READ_ONLY])
def test_other_roles_see_rules_but_cannot_create_or_change_them(
    alpha: Workspace, role: str
) -> None:
    rule = _tag_rule(_manager(alpha), "Seen", on="a", add="b")
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    assert client.get("/marketing/triggers/").status_code == 200
    assert client.get(f"/marketing/triggers/{rule.pk}/").status_code == 200
    body = '{"when": {"event": "sales.deal_won"}, "actions": [{"type": "add_tag", "tag": "x"}]}'
    refused = client.post("/marketing/triggers/new/", {"name": "X", "definition": body})
    assert refused.status_code == 403
    api = client.post(
        "/api/v1/marketing/triggers/",
        {"name": "X", "definition": {"when": {"event": "sales.deal_won"}, "actions": []}},
        content_type="application/json",
    )
    assert api.status_code == 403
    patch = client.patch(
        f"/api/v1/marketing/triggers/{rule.pk}/", {"active": False}, content_type="application/json"
    )
    assert patch.status_code == 403
    assert TriggerRule.objects.count() == 1
    rule.refresh_from_db()
    assert rule.active is True


def test_the_editor_shows_the_loop_next_to_the_rule(alpha: Workspace) -> None:
    _tag_rule(_manager(alpha), "Ping", on="ping", add="pong")
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    response = client.post(
        "/marketing/triggers/new/",
        {
            "name": "Pong",
            "active": "on",
            "definition": '{"when": {"event": "sales.tag_added", "match": {"tag": "pong"}},'
            ' "actions": [{"type": "add_tag", "tag": "ping"}]}',
        },
    )
    assert response.status_code == 400
    assert "Pong → Ping → Pong" in response.content.decode()
    broken = client.post("/marketing/triggers/new/", {"name": "X", "definition": "{not json"})
    assert broken.status_code == 400
    assert "The rule is not valid JSON." in broken.content.decode()
    assert TriggerRule.objects.count() == 1


def test_the_run_log_pages_with_htmx_and_the_api_lists_runs(alpha: Workspace) -> None:
    manager = _manager(alpha)
    rule = _tag_rule(manager, "Logged", on="a", add="b")
    contacts = ContactFactory.create_batch(55, owner=manager.user)
    TriggerFiring.objects.bulk_create(
        TriggerFiring(
            rule=rule,
            contact=contact,
            occurrence=f"o{n}",
            status="done",
            due_at=timezone.now(),
            finished_at=timezone.now(),
            outcome=[{"action": "add_tag", "status": "done", "message": "Tagged b."}],
        )
        for n, contact in enumerate(contacts)
    )
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    first = client.get(f"/marketing/triggers/{rule.pk}/")
    assert first.status_code == 200
    html = first.content.decode()
    assert html.count("data-firing=") == 50
    assert 'data-testid="more-runs"' in html
    cursor = first.context["page"].next_cursor
    more = client.get(
        f"/marketing/triggers/{rule.pk}/", {"after": cursor}, headers={"HX-Request": "true"}
    )
    assert more.content.decode().count("data-firing=") == 5
    assert "<html" not in more.content.decode()
    api = client.get(f"/api/v1/marketing/triggers/{rule.pk}/runs/")
    assert api.status_code == 200
    assert len(api.json()["results"]) == 50


def test_another_workspace_rule_is_not_found(alpha: Workspace, bravo: Workspace) -> None:
    from django_tenants.utils import schema_context

    with schema_context(bravo.tenant.schema_name):
        foreign = TriggerRule.objects.create(
            name="Theirs",
            definition={"when": {"event": "sales.deal_won"}, "actions": []},
            listens_to="sales.deal_won",
        )
    client = workspace_client(alpha.members[Role.OWNER].user, alpha.tenant)
    assert client.get(f"/marketing/triggers/{foreign.pk}/").status_code == 404
    assert client.get(f"/api/v1/marketing/triggers/{foreign.pk}/").status_code == 404


# --- the lead score crossing a threshold ------------------------------------------------------


def _score_rule(actor: Membership, name: str, tag: str, points: int) -> None:
    from crm_modules.scoring.services import rule_create

    rule_create(
        actor=actor,
        data={
            "entity": "contact",
            "name": name,
            "kind": "field",
            "field": "tags",
            "operator": "contains",
            "value": tag,
            "points": points,
        },
    )


def _rescore(contacts: list[Contact], tags: list[str], capture: Any) -> None:
    """Change the scoring input without announcing anything, then score as the background
    task does."""
    from crm_modules.scoring.services import scores_recompute

    Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(tags=tags)
    with capture(execute=True):
        scores_recompute(entity="contact", ids=[c.pk for c in contacts])


def _hot_rule(actor: Membership) -> TriggerRule:
    return services.trigger_rule_create(
        actor=actor,
        name="Hot lead",
        definition={
            "when": {"threshold": {"field": "score", "crosses": 50}},
            "actions": [{"type": "create_task", "title": "Call this hot lead", "due_in_days": 0}],
        },
    )


def test_a_score_crossing_its_threshold_fires_once_until_it_drops_and_crosses_again(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    owner = fresh(alpha.owner)
    with django_capture_on_commit_callbacks(execute=False):
        _score_rule(owner, "Hot", "hot", 30)
        _score_rule(owner, "Warm", "warm", 20)
        _score_rule(owner, "Demo", "demo", 15)
    rule = _hot_rule(owner)
    rep = alpha.members[Role.SALES_REP].user
    contact = ContactFactory.create(owner=rep)

    def firings() -> list[TriggerFiring]:
        return list(TriggerFiring.objects.filter(rule=rule, contact=contact).order_by("pk"))

    # Rising below the threshold: nothing.
    _rescore([contact], ["hot"], django_capture_on_commit_callbacks)
    assert Contact.objects.get(pk=contact.pk).score == 30
    assert firings() == []
    # Reaching it exactly (30 → 50) fires.
    _rescore([contact], ["hot", "warm"], django_capture_on_commit_callbacks)
    assert Contact.objects.get(pk=contact.pk).score == 50
    [first] = firings()
    assert first.status == TriggerFiring.Status.DONE
    assert first.data == {"from": 30, "to": 50}
    assert Task.objects.filter(contact=contact, title="Call this hot lead").count() == 1
    assert Task.objects.get(contact=contact).owner_id == rep.pk
    # Rising further while above it (50 → 65): no second firing.
    _rescore([contact], ["hot", "warm", "demo"], django_capture_on_commit_callbacks)
    assert Contact.objects.get(pk=contact.pk).score == 65
    assert firings() == [first]
    # Falling below (65 → 30): nothing.
    _rescore([contact], ["hot"], django_capture_on_commit_callbacks)
    assert Contact.objects.get(pk=contact.pk).score == 30
    assert firings() == [first]
    # Crossing again (30 → 65) fires a second time, as its own happening.
    _rescore([contact], ["hot", "warm", "demo"], django_capture_on_commit_callbacks)
    [_first, second] = firings()
    assert second.occurrence != first.occurrence
    assert second.data == {"from": 30, "to": 65}
    assert second.status == TriggerFiring.Status.DONE
    assert Task.objects.filter(contact=contact, title="Call this hot lead").count() == 2
    # Scoring the same contact again with nothing changed announces nothing.
    _rescore([contact], ["hot", "warm", "demo"], django_capture_on_commit_callbacks)
    assert len(firings()) == 2


def test_a_score_threshold_is_validated_and_offered_as_a_threshold_not_an_event(
    alpha: Workspace,
) -> None:
    owner = fresh(alpha.owner)
    with pytest.raises(ServiceError) as error:
        services.trigger_rule_create(
            actor=owner,
            name="Score as an event",
            definition={
                "when": {"event": "scoring.score_changed"},
                "actions": [{"type": "add_tag", "tag": "x"}],
            },
        )
    assert error.value.code == "when.event"
    assert "scoring.score_changed" not in error.value.message
    with pytest.raises(ServiceError) as error:
        services.trigger_rule_create(
            actor=owner,
            name="Bad score",
            definition={
                "when": {"threshold": {"field": "score", "crosses": "lots"}},
                "actions": [{"type": "add_tag", "tag": "x"}],
            },
        )
    assert error.value.code == "when.threshold.crosses"
    assert not TriggerRule.objects.exists()
    rule = _hot_rule(owner)
    assert rule.listens_to == "scoring.score_changed"
    assert rule.definition["when"] == {"threshold": {"field": "score", "crosses": "50"}}
    page = workspace_client(owner.user, alpha.tenant).get("/marketing/triggers/new/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<code>sales.deal_won</code>" in text
    assert "<code>scoring.score_changed</code>" not in text
    assert "score (the lead score, each time it rises to the threshold)" in text


def test_a_batch_rescoring_announces_crossings_in_a_constant_number_of_queries(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm_modules.scoring.services import scores_recompute

    owner = fresh(alpha.owner)
    with django_capture_on_commit_callbacks(execute=False):
        _score_rule(owner, "Hot", "hot", 60)
    rule = _hot_rule(owner)
    few = ContactFactory.create_batch(3, owner=owner.user)
    many = ContactFactory.create_batch(40, owner=owner.user)
    # Two of the many already score 60 (their breakdown is stale): rescored, but no crossing.
    Contact.objects.filter(pk__in=[c.pk for c in many[:2]]).update(score=60)

    def queries_to_rescore(contacts: list[Contact]) -> tuple[int, list[Any]]:
        Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(tags=["hot"])
        with (
            django_capture_on_commit_callbacks(execute=False) as callbacks,
            CaptureQueriesContext(connection) as queries,
        ):
            scores_recompute(entity="contact", ids=[c.pk for c in contacts])
        return len(queries.captured_queries), callbacks

    few_queries, few_callbacks = queries_to_rescore(few)
    many_queries, many_callbacks = queries_to_rescore(many)
    assert few_queries == many_queries
    # The evaluations are queued after commit, one callback for the batch.
    assert len(many_callbacks) == len(few_callbacks) == 1
    for callback in [*few_callbacks, *many_callbacks]:
        callback()
    fired = set(TriggerFiring.objects.filter(rule=rule).values_list("contact_id", flat=True))
    assert fired == {c.pk for c in few} | {c.pk for c in many[2:]}
