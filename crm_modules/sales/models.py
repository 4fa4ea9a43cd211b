"""Sales records: companies, contacts, leads, pipelines with stages, deals and tasks.

Data only (no logic in ``save()``); services in ``services/`` write them. Designed for a
workspace of a million contacts (D21): every list's default sort and filters have an index
ending in the primary key (keyset pagination), and each record carries a ``search_text``
(names, emails, phones, domain) with a trigram GIN index for search in any script (D20).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import TextField
from django.db.models.functions import Cast, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference
from crm_platform.indexes import TrigramIndex


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    QUALIFIED = "qualified", _("Qualified")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    EVANGELIST = "evangelist", _("Evangelist")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")


def _trigram(name: str, field: str = "search_text") -> TrigramIndex:
    return TrigramIndex(fields=[field], name=name)


def _custom_text(name: str) -> TrigramIndex:
    """The trigram index behind the custom-field filter "contains" (``custom_filters``): the
    record's custom values as one upper-cased text, as ``icontains`` reads it."""
    return TrigramIndex(OpClass(Upper(Cast("custom", TextField())), name="gin_trgm_ops"), name=name)


def _upper_text(field: str, name: str) -> TrigramIndex:
    """A trigram index on ``upper(field::text)``: what ``icontains`` and ``iexact`` compare."""
    return TrigramIndex(OpClass(Upper(Cast(field, TextField())), name="gin_trgm_ops"), name=name)


def _short_grams() -> models.GeneratedField:
    """Every one- and two-character piece of the CJK runs in ``search_text``, computed by
    PostgreSQL (``rapport_short_grams``, migration 0002) whoever writes the row: search terms
    too short for a trigram look here instead of scanning every row (D20)."""
    grams = ArrayField(models.TextField())
    return models.GeneratedField(
        expression=models.Func(
            models.F("search_text"), function="rapport_short_grams", output_field=grams
        ),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )


class Address(models.Model):
    """Postal address fields shared by companies and contacts; any script."""

    street = models.CharField(_("street"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        abstract = True


class Company(Address):
    class Size(models.TextChoices):
        UNKNOWN = "", _("Unknown")
        S1 = "1-10", "1-10"
        S2 = "11-50", "11-50"
        S3 = "51-200", "51-200"
        S4 = "201-1000", "201-1000"
        S5 = "1001+", "1001+"

    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=253, blank=True)
    website = models.URLField(_("website"), max_length=500, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=10, choices=Size.choices, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subsidiaries",
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, blank=True
    )
    owner = user_reference(verbose_name=_("owner"))
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Values of the workspace's custom fields for companies, by field code (ADR 0012).
    custom = models.JSONField(default=dict, blank=True)
    search_text = models.TextField(default="", editable=False)
    search_grams = _short_grams()
    # The name as lower-case ASCII (any script transliterated), compared by trigram
    # similarity to find likely duplicates (ADR 0018).
    name_key = models.CharField(max_length=400, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            models.Index(fields=["name", "id"], name="company_by_name"),
            models.Index(fields=["owner", "name", "id"], name="company_owner_name"),
            models.Index(fields=["domain"], name="company_domain"),
            models.Index(fields=["parent"], name="company_parent"),
            GinIndex(fields=["tags"], name="company_tags"),
            GinIndex(fields=["custom"], name="company_custom", opclasses=["jsonb_path_ops"]),
            _custom_text("company_custom_text"),
            _trigram("company_search"),
            GinIndex(fields=["search_grams"], name="company_search_grams"),
            _trigram("company_name_key", "name_key"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(Address):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=20,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )
    owner = user_reference(verbose_name=_("owner"))
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    utm_source = models.CharField(max_length=150, blank=True)
    utm_medium = models.CharField(max_length=150, blank=True)
    utm_campaign = models.CharField(max_length=150, blank=True)
    utm_term = models.CharField(max_length=150, blank=True)
    utm_content = models.CharField(max_length=150, blank=True)
    # Where the contact first and last came from (UTM, referrer, landing page, when), written by
    # marketing's lead capture through ``record_touch``; first never changes once set.
    first_touch = models.JSONField(default=dict, blank=True, editable=False)
    last_touch = models.JSONField(default=dict, blank=True, editable=False)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, blank=True
    )
    notes = models.TextField(_("notes"), blank=True)
    # An IANA name ("Europe/Rome"); blank means the workspace's time zone. Quiet hours and
    # scheduled sends use it.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    # One of the product's languages (settings.LANGUAGES); blank: not known. Mail to the contact
    # and the customer portal use it; service routing rules by language read it first.
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES
    )
    # Copies of the primary email and phone kept by the services, so a list row needs no join.
    primary_email = models.CharField(max_length=254, blank=True, editable=False)
    primary_phone = models.CharField(max_length=20, blank=True, editable=False)
    custom = models.JSONField(default=dict, blank=True)
    search_text = models.TextField(default="", editable=False)
    search_grams = _short_grams()
    name_key = models.CharField(max_length=400, blank=True, default="", editable=False)
    # The lead score and the points each scoring rule gave, by rule id (crm_modules/scoring).
    score = models.IntegerField(_("score"), default=0, editable=False)
    score_breakdown = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            # Lists are newest first by id (keyset); each filter has an index ending in id.
            models.Index(fields=["owner", "-id"], name="contact_owner"),
            models.Index(fields=["lifecycle_stage", "-id"], name="contact_stage"),
            models.Index(fields=["owner", "lifecycle_stage", "-id"], name="contact_owner_stage"),
            models.Index(fields=["company", "-id"], name="contact_company"),
            GinIndex(fields=["tags"], name="contact_tags"),
            GinIndex(fields=["custom"], name="contact_custom", opclasses=["jsonb_path_ops"]),
            _custom_text("contact_custom_text"),
            _trigram("contact_search"),
            GinIndex(fields=["search_grams"], name="contact_search_grams"),
            models.Index(fields=["-score", "-id"], name="contact_score"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or str(
            _("(no name)")
        )


class ContactNameKey(models.Model):
    """Each contact's ``name_key`` again, alone in a narrow table with the trigram index that the
    duplicate check and scan search (ADR 0064). Kept by triggers on the contact table (insert,
    a changed key, delete; migration 0018), so every way of writing contacts — services, bulk
    imports, COPY — keeps it: the check reads a small table and an index that score and other
    writes to contacts never touch."""

    contact_id = models.BigIntegerField(primary_key=True)
    name_key = models.CharField(max_length=400, default="")

    class Meta:
        indexes = [
            # A short pending list: every search reads all of it (ADR 0064).
            TrigramIndex(
                fields=["name_key"], name="contact_name_key_grams", gin_pending_list_limit=128
            ),
        ]

    def __str__(self) -> str:
        return self.name_key


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(_("email"), max_length=254)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "email"], name="contact_email_unique"),
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="contact_one_primary_email",
            ),
        ]
        indexes = [models.Index(fields=["email"], name="contact_email_lookup")]

    def __str__(self) -> str:
        return self.email


class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("phone"), max_length=20)  # E.164
    label = models.CharField(_("label"), max_length=30, blank=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "number"], name="contact_phone_unique"),
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="contact_one_primary_phone",
            ),
        ]
        indexes = [models.Index(fields=["number"], name="contact_phone_lookup")]

    def __str__(self) -> str:
        return self.number


class Consent(models.Model):
    """Whether a contact agreed to be reached on a channel, when and how (one row a channel)."""

    class Status(models.TextChoices):
        GIVEN = "given", _("Given")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    recorded_at = models.DateTimeField(_("when"))
    method = models.CharField(_("how"), max_length=200)
    recorded_by = user_reference()
    # Proof of a consent the contact gave or withdrew themselves (a double opt-in link, an
    # unsubscribe): where the request came from.
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel"], name="consent_per_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.status}"


class CompanyMembership(models.Model):
    """A contact's time at a company; the open row (``ended_at`` null) is the current one."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="company_history")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    job_title = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(ended_at__isnull=True),
                name="company_membership_one_current",
            )
        ]
        indexes = [models.Index(fields=["contact", "-started_at"], name="company_history")]

    def __str__(self) -> str:
        return f"{self.contact_id}@{self.company_id}"


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        WORKING = "working", _("Working")
        CONVERTED = "converted", _("Converted")
        DISQUALIFIED = "disqualified", _("Disqualified")

    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=100)
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.NEW
    )
    owner = user_reference(verbose_name=_("owner"))
    notes = models.TextField(_("notes"), blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deal = models.ForeignKey(
        "Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_touch = models.JSONField(default=dict, blank=True, editable=False)
    last_touch = models.JSONField(default=dict, blank=True, editable=False)
    # Custom field values by code (ADR 0012, ADR 0055); a converted lead keeps them.
    custom = models.JSONField(default=dict, blank=True)
    search_text = models.TextField(default="", editable=False)
    search_grams = _short_grams()
    score = models.IntegerField(_("score"), default=0, editable=False)
    score_breakdown = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["status", "-id"], name="lead_status"),
            models.Index(fields=["owner", "-id"], name="lead_owner"),
            _trigram("lead_search"),
            GinIndex(fields=["search_grams"], name="lead_search_grams"),
            models.Index(fields=["-score", "-id"], name="lead_score"),
            GinIndex(fields=["tags"], name="lead_tags"),
            # Duplicate lookups of an import (same email, else same phone), a batch at a time.
            models.Index(fields=["email"], name="lead_email_lookup"),
            models.Index(fields=["phone"], name="lead_phone_lookup"),
            GinIndex(fields=["custom"], name="lead_custom", opclasses=["jsonb_path_ops"]),
            _custom_text("lead_custom_text"),
        ]

    def __str__(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.email or self.company_name or str(_("(no name)"))


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    # An archived pipeline keeps its deals and history but takes no new deals.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(_("win probability (%)"), default=0)
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.OPEN)

    class Meta:
        ordering = ("pipeline", "position", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="stage_probability_percent"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Deal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=200)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    owner = user_reference(verbose_name=_("owner"))
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="deals")
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    search_text = models.TextField(default="", editable=False)
    search_grams = _short_grams()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            # The kanban: each stage's cards, most recently moved first.
            models.Index(fields=["stage", "-stage_entered_at", "-id"], name="deal_board"),
            models.Index(fields=["owner", "-id"], name="deal_owner"),
            models.Index(fields=["pipeline", "status", "-id"], name="deal_pipeline_status"),
            models.Index(fields=["expected_close_date", "id"], name="deal_closing"),
            models.Index(fields=["company", "-id"], name="deal_company"),
            models.Index(fields=["amount", "id"], name="deal_by_amount"),
            models.Index(fields=["name", "id"], name="deal_by_name"),
            # Reports: open deals by stage, closed deals by month and owner, read from the index.
            models.Index(
                fields=["status", "stage"], include=["amount", "owner"], name="deal_status_stage"
            ),
            models.Index(
                fields=["closed_at"], include=["status", "amount", "owner"], name="deal_closed"
            ),
            GinIndex(fields=["custom"], name="deal_custom", opclasses=["jsonb_path_ops"]),
            _custom_text("deal_custom_text"),
            _trigram("deal_search"),
            GinIndex(fields=["search_grams"], name="deal_search_grams"),
            GinIndex(fields=["tags"], name="deal_tags"),
        ]

    def __str__(self) -> str:
        return self.name


class DealStageTotal(models.Model):
    """How many deals each stage holds and their sum, per owner: the kanban's column headers
    read these few rows, not every deal of the pipeline (ADR 0071). Kept by statement triggers
    on the deal table (migration 0020), so every way of writing deals — services, bulk imports,
    COPY, updates of many rows — keeps it exact in the same transaction. Rows whose deals have
    all gone stay, at zero. A row per status and currency as well (migration 0021): reports
    sum only open deals, and only amounts already in the workspace's currency."""

    # No foreign key constraint (the triggers write these rows inside the deal table's
    # statements); a relation all the same, so reports group by the stage's name and position.
    stage = models.ForeignKey(
        Stage, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    owner = user_reference()
    status = models.CharField(max_length=5, default="", db_default="")
    currency = models.CharField(max_length=3, default="", db_default="")
    deals = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=24, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stage", "owner", "status", "currency"],
                name="deal_stage_total_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.stage_id}/{self.owner_id}: {self.deals}"


class DealStageChange(models.Model):
    """Every stage a deal entered, with its time: conversion and time-in-stage reports."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = user_reference()
    # When the deal entered its next stage (NULL while it is in this one), written by the move
    # itself: time in stage without looking for the following change (reporting, ADR 0025).
    left_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["deal", "changed_at"], name="stage_change_deal"),
            models.Index(fields=["to_stage", "changed_at"], name="stage_change_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id}→{self.to_stage_id}"


class Task(models.Model):
    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")

    title = models.CharField(_("title"), max_length=200)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    # The assignee: ``owner`` so that record scopes (own / team) apply to tasks as to records.
    owner = user_reference(verbose_name=_("assignee"))
    created_by = user_reference()
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    # When the assignee was reminded of the due time; cleared when the due time changes.
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            # My open tasks by due time (overdue, today, upcoming).
            models.Index(
                fields=["owner", "due_at", "id"],
                condition=models.Q(done=False),
                name="task_open_by_assignee",
            ),
            models.Index(fields=["owner", "done", "-id"], name="task_by_assignee"),
            # Reminders: open tasks not yet reminded, by due time.
            models.Index(
                fields=["due_at"],
                condition=models.Q(done=False, reminded_at__isnull=True),
                name="task_to_remind",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CustomField(models.Model):
    """A field an admin adds to contacts, companies, deals, leads or tickets; values live in
    the record's ``custom`` (tickets belong to service, which checks values through the sales
    facade, ADR 0050)."""

    class Entity(models.TextChoices):
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")
        DEAL = "deal", _("Deal")
        LEAD = "lead", _("Lead")
        TICKET = "ticket", _("Ticket")

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        LONG_TEXT = "long_text", _("Long text")
        NUMBER = "number", _("Number")
        DECIMAL = "decimal", _("Decimal")
        DATE = "date", _("Date")
        DATETIME = "datetime", _("Date and time")
        BOOLEAN = "boolean", _("Yes or no")
        SELECT = "select", _("Single select")
        MULTI_SELECT = "multi_select", _("Multi select")
        URL = "url", _("Web address")
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        CURRENCY = "currency", _("Money")
        MEMBER = "member", _("Member")

    entity = models.CharField(max_length=10, choices=Entity.choices)
    code = models.SlugField(max_length=50)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=15, choices=Type.choices)
    options = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    help_text = models.CharField(_("help"), max_length=300, blank=True)
    # Asked of people filling a form (ADR 0053): a new record's form and the API's create,
    # and never cleared once set; paths that create records unattended do not ask it.
    required = models.BooleanField(_("required"), default=False)
    # An archived field is hidden from forms, lists and filters and takes no new values; the
    # values stay in the records and come back when the field is restored.
    archived_at = models.DateTimeField(null=True, blank=True)
    # A ticket field customers fill on the portal's new-request form and the web form
    # (ADR 0053); never a member field, never another entity's.
    customer_visible = models.BooleanField(_("shown to customers"), default=False)
    # The value a new record gets when the channel that creates it does not give the field
    # (ADR 0055), stored in the normal form of the field's type; None: no default.
    default_value = models.JSONField(_("default value"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("entity", "position", "id")
        constraints = [
            models.UniqueConstraint(fields=["entity", "code"], name="custom_field_code_unique")
        ]

    def __str__(self) -> str:
        return self.label


class DeletedCustomField(models.Model):
    """A custom field's code deleted from an entity, and not defined again since. Its values
    stay in the records (a delete does not rewrite a million rows) and count for nothing: a
    value whose code was never defined (data older than the fields) still counts as stored
    (ADR 0068). Defining the code again removes the row."""

    entity = models.CharField(max_length=10, choices=CustomField.Entity.choices)
    code = models.SlugField(max_length=50)
    deleted_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "code"], name="deleted_custom_field_unique")
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.code}"


class Product(models.Model):
    """An item of the workspace's catalogue that deals can carry as line items."""

    name = models.CharField(_("name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(
                fields=["sku"], condition=~models.Q(sku=""), name="product_sku_unique"
            )
        ]
        indexes = [
            models.Index(fields=["name", "id"], name="product_by_name"),
            # Name and SKU contain the text, any case, any script (D20): ``icontains`` is
            # ``upper(name::text) LIKE upper('%text%')``, which these indexes serve (ADR 0069).
            _upper_text("name", "product_name_grams"),
            _upper_text("sku", "product_sku_grams"),
        ]

    def __str__(self) -> str:
        return self.name


class LineItem(models.Model):
    """A product on a deal. A deal with line items has the sum of their totals as its amount."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="line_items")
    name = models.CharField(_("name"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=2)
    discount = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=18, decimal_places=2)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("deal", "position", "id")
        indexes = [models.Index(fields=["deal", "position", "id"], name="line_item_deal")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discount__gte=0, discount__lte=100),
                name="line_item_discount_percent",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="line_item_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"


class SavedView(models.Model):
    """A list's filters, sort and columns under a name: the member's own, or shared with the
    workspace. ``query`` is the list page's query string (without a page cursor)."""

    class Entity(models.TextChoices):
        CONTACT = "contact", _("Contacts")
        COMPANY = "company", _("Companies")
        LEAD = "lead", _("Leads")
        DEAL = "deal", _("Deals")

    entity = models.CharField(max_length=10, choices=Entity.choices)
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    owner = user_reference(verbose_name=_("owner"))
    shared = models.BooleanField(_("shared with the workspace"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["entity", "owner", "name"], name="saved_view_owner")]

    def __str__(self) -> str:
        return self.name


class MergeRecord(models.Model):
    """A merge of records into a survivor, with what it takes to undo it for 7 days: the
    removed records as they were and every row that moved to the survivor."""

    class Entity(models.TextChoices):
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")

    entity = models.CharField(max_length=10, choices=Entity.choices)
    survivor_id = models.BigIntegerField()
    merged_ids = ArrayField(models.BigIntegerField())
    snapshot = models.JSONField(default=dict)
    merged_by = user_reference()
    merged_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["entity", "survivor_id", "-merged_at"], name="merge_survivor"),
            models.Index(fields=["-merged_at", "-id"], name="merge_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.merged_ids} → {self.survivor_id}"


class DuplicateGroup(models.Model):
    """Records the workspace-wide scan found to be likely one and the same."""

    entity = models.CharField(max_length=10, choices=MergeRecord.Entity.choices)
    record_ids = ArrayField(models.BigIntegerField())
    # 0-100: how sure the scan is (same email or phone is surer than a similar name).
    confidence = models.PositiveSmallIntegerField()
    reasons = ArrayField(models.CharField(max_length=20), default=list)
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["entity", "-confidence", "id"], name="duplicate_group_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.record_ids} ({self.confidence})"
