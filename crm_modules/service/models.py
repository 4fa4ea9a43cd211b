"""Service records: tickets with their replies and notes, business hours with holidays, SLA
policies with a target per priority (ADR 0026).

Data only; ``services/`` writes them. Designed for millions of tickets in a workspace (D21):
every inbox view (unassigned, mine, a team's, breaching soon, all, a contact's, a company's)
reads one index range in its own order, ending in the primary key for keyset pages; the open
views use partial indexes that hold only open tickets, so the solved and closed history does
not slow them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference
from crm_platform.indexes import TrigramIndex


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending customer")
    ON_HOLD = "on_hold", _("On hold")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


# A ticket someone still has to work on: what the inbox views show.
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
# The SLA clocks stand still in these (waiting for the customer, or parked).
PAUSED_STATUSES = (Status.PENDING, Status.ON_HOLD)
DONE_STATUSES = (Status.SOLVED, Status.CLOSED)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketType(models.TextChoices):
    QUESTION = "question", _("Question")
    INCIDENT = "incident", _("Incident")
    PROBLEM = "problem", _("Problem")
    TASK = "task", _("Task")


class TicketChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    WEB = "web", _("Web form")
    PORTAL = "portal", _("Portal")
    API = "api", _("API")
    AGENT = "agent", _("Agent")


_OPEN = models.Q(status__in=[s.value for s in OPEN_STATUSES])


class Ticket(models.Model):
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    type = models.CharField(
        _("type"), max_length=10, choices=TicketType.choices, default=TicketType.QUESTION
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=TicketChannel.choices, default=TicketChannel.AGENT
    )
    assignee = user_reference(verbose_name=_("assignee"))
    # A platform team (tenants.Team lives in the public schema): no constraint across schemas,
    # the services check that the team belongs to the workspace.
    team = models.ForeignKey(
        "tenants.Team",
        verbose_name=_("team"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    contact = models.ForeignKey(
        "sales.Contact",
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    company = models.ForeignKey(
        "sales.Company",
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = user_reference(verbose_name=_("created by"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Last activity (a reply, a note, a change): the inbox's sort.
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # SLA (ADR 0026). A target's due time is the creation time plus its business minutes plus
    # the business time spent paused; while paused the due times are empty.
    sla_policy = models.ForeignKey(
        "SlaPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    first_response_breached = models.BooleanField(default=False)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    resolution_breached = models.BooleanField(default=False)
    paused_since = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.BigIntegerField(default=0)
    # The earliest due time of a target still running: what "breaching soon" sorts by.
    next_due_at = models.DateTimeField(null=True, blank=True)
    # Reports (ADR 0044): business time from opening to the first public reply, and to solving
    # (pauses included: what the customer waited), by the SLA clock's calendar.
    first_response_business_seconds = models.BigIntegerField(null=True, blank=True)
    resolution_business_seconds = models.BigIntegerField(null=True, blank=True)
    # Warnings before a breach (a few business minutes before each due time), sent once per
    # due time; and when the SLA sweep next has to look at this ticket (a warning or a breach
    # to tell), empty when nothing is pending.
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    first_response_warned = models.BooleanField(default=False)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_warned = models.BooleanField(default=False)
    sla_alarm_at = models.DateTimeField(null=True, blank=True)
    # Next response (ADR 0060): a customer message after an agent's public reply starts a
    # clock that the next public reply stops. ``next_response_paused_base`` is the business
    # time counted in ``paused_seconds`` that does not belong to this clock (paused before it
    # started), so its due time is the start plus the target plus the pause since the start.
    next_response_started_at = models.DateTimeField(null=True, blank=True)
    next_response_paused_base = models.BigIntegerField(default=0)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    next_responded_at = models.DateTimeField(null=True, blank=True)
    next_response_breached = models.BooleanField(default=False)
    next_response_warn_at = models.DateTimeField(null=True, blank=True)
    next_response_warned = models.BooleanField(default=False)

    # Routing (ADR 0037): the customer's language, the skills an agent needs for the ticket,
    # and since when it waits in its team's queue for an agent with room (empty: not waiting).
    language = models.CharField(_("language"), max_length=10, blank=True)
    skills = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # A ticket merged into another is closed and points at the one that carries on.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Values of the workspace's custom fields for tickets, by field code: defined and checked
    # by the sales custom fields (ADR 0012, ADR 0050).
    custom = models.JSONField(default=dict, blank=True)
    # Opened by an email whose From domain failed authentication (ADR 0068): the address it
    # claimed, not linked to any contact; empty for every other ticket.
    unverified_sender = models.CharField(_("unverified sender"), max_length=254, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="ticket_all"),
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status"),
            models.Index(
                fields=["-updated_at", "-id"],
                name="ticket_unassigned",
                condition=_OPEN & models.Q(assignee__isnull=True),
            ),
            models.Index(
                fields=["assignee", "-updated_at", "-id"], name="ticket_mine", condition=_OPEN
            ),
            models.Index(
                fields=["team", "-updated_at", "-id"], name="ticket_team", condition=_OPEN
            ),
            models.Index(
                fields=["next_due_at", "id"],
                name="ticket_breaching",
                condition=models.Q(next_due_at__isnull=False),
            ),
            models.Index(
                fields=["sla_alarm_at", "id"],
                name="ticket_sla_alarm",
                condition=models.Q(sla_alarm_at__isnull=False),
            ),
            models.Index(fields=["contact", "-updated_at", "-id"], name="ticket_contact"),
            models.Index(fields=["company", "-updated_at", "-id"], name="ticket_company"),
            GinIndex(fields=["tags"], name="ticket_tags"),
            GinIndex(fields=["custom"], name="ticket_custom", opclasses=["jsonb_path_ops"]),
            # A team's queue, oldest first.
            models.Index(
                fields=["team", "queued_at", "id"],
                name="ticket_queue",
                condition=models.Q(queued_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketMessage(models.Model):
    """A public reply (to or from the customer) or an internal note (staff only)."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        NOTE = "note", _("Internal note")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("From the customer")
        OUTBOUND = "outbound", _("To the customer")
        INTERNAL = "internal", _("Internal")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    body = models.TextField(_("message"))
    author = user_reference(verbose_name=_("author"))
    # A customer who wrote through the portal (``author`` is staff only).
    sender_contact = models.ForeignKey(
        "sales.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="ticket_message_order")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.ticket_id}"


class BusinessHours(models.Model):
    """When the support team works: weekly openings in one IANA time zone, and holidays."""

    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # [[weekday 0-6, start minute, end minute], ...]; 1440 is the next midnight.
    openings = models.JSONField(_("openings"), default=list)
    is_default = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="business_hours_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hours", "date"], name="holiday_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SlaPolicy(models.Model):
    """Targets in one set of business hours. The workspace's default policy applies when no
    other matches; the others are tried in ``position`` order and the first whose every
    non-empty condition holds wins (ADR 0060). An empty condition matches anything."""

    name = models.CharField(_("name"), max_length=100)
    hours = models.ForeignKey(BusinessHours, on_delete=models.PROTECT, related_name="policies")
    is_default = models.BooleanField(default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    # Customer tiers (casefolded, as routing reads them), teams, channels and ticket types.
    tiers = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    team_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    channels = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    types = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    # Deleted by an Owner or Admin: chosen for no ticket from then on, and removed by the
    # background re-choice once no ticket points at it (ADR 0061).
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="sla_policy_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    """Business minutes to the first public reply and to the solution, for one priority; and,
    when set, from each customer message after a public reply to the next public reply."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))
    next_response_minutes = models.PositiveIntegerField(
        _("next response (business minutes)"), null=True, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.priority}"


class InboundMessage(models.Model):
    """One email received for the workspace (ADR 0036), stored before it is answered with 250
    or 2xx, so nothing accepted is lost; ``message_id`` makes receiving it twice a no-op.

    ``raw`` keeps the message until it is ticketed (then it is emptied: the text is on the
    ticket and the attachments in documents); a failed message keeps it for the admins."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        TICKETED = "ticketed", _("On a ticket")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    class Source(models.TextChoices):
        SMTP = "smtp", _("SMTP")
        WEBHOOK = "webhook", _("Webhook")

    message_id = models.CharField(max_length=998, unique=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED
    )
    # Why the message failed or was ignored, for the admins.
    reason = models.TextField(_("reason"), blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    raw = models.BinaryField(default=bytes)
    size = models.PositiveIntegerField(default=0)
    recipient = models.CharField(max_length=254, blank=True)
    sender = models.CharField(_("sender"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    # The thread this message belongs to: its References then its In-Reply-To, in order.
    references = models.TextField(blank=True)
    # Auto-Submitted, Precedence bulk/list/junk or an empty return path (RFC 3834).
    automatic = models.BooleanField(default=False)
    # The sanitised HTML body when the message had one (the text is the ticket message).
    body_html = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ticket_message = models.ForeignKey(
        TicketMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # This message moved a solved ticket back to open (reopenings by mail are rate-limited).
    reopened = models.BooleanField(default=False)
    # What the receiving side checked of the sender (ADR 0068): SES's verdicts as received,
    # then the verdict and the checks it was made from once processed.
    authentication = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")
        indexes = [
            models.Index(fields=["status", "-received_at", "-id"], name="inbound_status"),
            models.Index(
                fields=["ticket", "received_at"],
                name="inbound_reopened",
                condition=models.Q(reopened=True),
            ),
            models.Index(fields=["ticket", "-received_at", "-id"], name="inbound_ticket"),
        ]

    def __str__(self) -> str:
        return self.message_id


class OutboundEmail(models.Model):
    """One email sent to a ticket's contact: an agent's reply or an automatic
    acknowledgement. ``message_id`` is ours, so the customer's answer threads back."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        HELD = "held", _("Not sent: the contact may not be written to")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    ticket_message = models.ForeignKey(
        TicketMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message_id = models.CharField(max_length=998, unique=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    to_address = models.CharField(max_length=254)
    subject = models.CharField(max_length=250)
    automatic = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["ticket", "-created_at", "-id"], name="outbound_ticket"),
            # The automatic mail lately sent to an address (one per window, loop safety).
            models.Index(
                fields=["to_address", "-created_at"],
                name="outbound_automatic",
                condition=models.Q(automatic=True),
            ),
        ]

    def __str__(self) -> str:
        return self.message_id


class CsatSurvey(models.Model):
    """One satisfaction question to the customer, asked each time a ticket is solved (a ticket
    reopened and solved again asks again). The agent and team are those at the solution, so a
    later reassignment does not move the rating to someone else."""

    class Score(models.IntegerChoices):
        VERY_BAD = 1, _("Very dissatisfied")
        BAD = 2, _("Dissatisfied")
        NEUTRAL = 3, _("Neutral")
        GOOD = 4, _("Satisfied")
        VERY_GOOD = 5, _("Very satisfied")

    class Delivery(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        HELD = "held", _("Not sent: the contact may not be emailed")
        NO_ADDRESS = "no_address", _("Not sent: the contact has no email address")
        EXPIRED = "expired", _("Not sent: too long after the ticket was solved")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="csat_surveys")
    contact = models.ForeignKey(
        "sales.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = user_reference(verbose_name=_("agent"))
    team = models.ForeignKey(
        "tenants.Team",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    delivery = models.CharField(max_length=12, choices=Delivery.choices, default=Delivery.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("rating"), choices=Score.choices, null=True)
    comment = models.TextField(_("comment"), blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    # The follow-up task made for the team lead after a bad rating (a sales task), once.
    follow_up_task_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        indexes = [
            models.Index(fields=["contact", "-created_at", "-id"], name="csat_contact"),
            models.Index(fields=["ticket", "-id"], name="csat_ticket"),
            models.Index(
                fields=["rated_at", "agent", "team"],
                name="csat_rated",
                condition=models.Q(score__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"CSAT {self.pk} of ticket {self.ticket_id}"

    @property
    def is_bad(self) -> bool:
        return self.score is not None and self.score <= BAD_SCORE


# A rating at or under this is bad: the team lead gets a follow-up task.
BAD_SCORE = 2


class PortalSettings(models.Model):
    """The workspace's customer portal choices (one row)."""

    # Customers also see (and reply to) the tickets of the company they belong to.
    company_tickets = models.BooleanField(_("customers see their company's tickets"), default=False)

    class Meta:
        verbose_name = _("portal settings")
        verbose_name_plural = _("portal settings")

    def __str__(self) -> str:
        return "portal settings"


class PortalSignInLink(models.Model):
    """A magic link sent to a customer's address: usable once, for ``LINK_MINUTES`` minutes.
    Only the SHA-256 of the token is stored, so a database reader cannot sign in."""

    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["email", "-created_at"], name="portal_link_email")]

    def __str__(self) -> str:
        return f"sign-in link {self.pk}"


class PortalSession(models.Model):
    """A customer signed in to the portal: a realm of its own, apart from staff sessions (no
    user, no membership, no seat). The cookie holds the token; the row its SHA-256."""

    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"portal session {self.pk}"


# --- knowledge base ---------------------------------------------------------------------------


class ArticleCategory(models.Model):
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("article category")
        verbose_name_plural = _("article categories")
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """A knowledge-base article in one language. Translations of the same article share a
    ``group`` (the id of the first one), one per language."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    class Visibility(models.TextChoices):
        INTERNAL = "internal", _("Internal (staff only)")
        PUBLIC = "public", _("Public (customers too)")

    group = models.BigIntegerField(null=True, blank=True)
    language = models.CharField(_("language"), max_length=10)
    category = models.ForeignKey(
        ArticleCategory,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="articles",
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    # Title and text lower-cased: substring search in any script through a trigram index (D20).
    search_text = models.TextField(default="", editable=False)
    search_title = models.CharField(max_length=200, default="", editable=False)
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [
            TrigramIndex(fields=["search_text"], name="article_search"),
            TrigramIndex(fields=["search_title"], name="article_title_search"),
            models.Index(fields=["-updated_at", "-id"], name="article_recent"),
            models.Index(
                fields=["language", "-updated_at", "-id"],
                name="article_public",
                condition=models.Q(state="published", visibility="public"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "language"], name="article_one_translation_per_language"
            )
        ]

    def __str__(self) -> str:
        return self.title


class SlaEscalation(models.Model):
    """What happens when a target of a policy is breached, besides the notice (ADR 0037)."""

    class Target(models.TextChoices):
        ANY = "any", _("Any target")
        FIRST_RESPONSE = "first_response", _("First response")
        NEXT_RESPONSE = "next_response", _("Next response")
        RESOLUTION = "resolution", _("Resolution")

    class Action(models.TextChoices):
        NOTIFY = "notify", _("Notify a member")
        REASSIGN = "reassign", _("Reassign")
        RAISE_PRIORITY = "raise_priority", _("Raise the priority")

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="escalations")
    target = models.CharField(_("target"), max_length=20, choices=Target.choices)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    # Notify: this member. Reassign: to this member and/or this team.
    user = user_reference(verbose_name=_("member"))
    team = models.ForeignKey(
        "tenants.Team",
        verbose_name=_("team"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"{self.policy_id} {self.target} {self.action}"


# --- routing (ADR 0037) ------------------------------------------------------------------------


class RoutingRule(models.Model):
    """Sends a new ticket to a team. Rules are tried in ``position`` order; the first whose
    every non-empty condition holds wins. An empty condition matches anything."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    channels = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    # Any of these words in the subject or description (case-insensitive).
    keywords = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    tiers = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    languages = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    team = models.ForeignKey(
        "tenants.Team",
        verbose_name=_("team"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Skills an agent needs to be given the ticket.
    skills = ArrayField(models.CharField(max_length=50), default=list, blank=True)

    class Meta:
        ordering = ("position", "id")
        indexes = [models.Index(fields=["position", "id"], name="routing_rule_order")]

    def __str__(self) -> str:
        return self.name


class TeamRouting(models.Model):
    """How a team hands its tickets to its agents."""

    class Method(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round-robin")
        LEAST_BUSY = "least_busy", _("Least busy")
        MANUAL = "manual", _("Manual (nobody is given tickets automatically)")

    team = models.OneToOneField(
        "tenants.Team",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        primary_key=True,
    )
    method = models.CharField(
        _("method"), max_length=20, choices=Method.choices, default=Method.ROUND_ROBIN
    )
    # Round-robin: the agent given the last ticket; the next goes to the one after.
    last_user = user_reference()

    def __str__(self) -> str:
        return f"{self.team_id} {self.method}"


DEFAULT_MAX_OPEN = 20


class AgentProfile(models.Model):
    """An agent's availability, skills and cap on open tickets in this workspace."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        primary_key=True,
    )
    available = models.BooleanField(_("available"), default=False)
    skills = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    max_open = models.PositiveIntegerField(_("open tickets at most"), default=DEFAULT_MAX_OPEN)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id} {'available' if self.available else 'away'}"


# --- macros (ADR 0037) -------------------------------------------------------------------------


class Macro(models.Model):
    """A canned response and/or a set of changes applied to a ticket in one click. The text
    may hold placeholders such as ``{{ contact.first_name | there }}``."""

    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(_("reply text"), blank=True)
    public = models.BooleanField(_("public reply"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, blank=True)
    assignee = user_reference(verbose_name=_("assignee"))
    team = models.ForeignKey(
        "tenants.Team",
        verbose_name=_("team"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    add_tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    created_by = user_reference(verbose_name=_("created by"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("macro")
        verbose_name_plural = _("macros")
        indexes = [models.Index(fields=["name", "id"], name="macro_by_name")]

    def __str__(self) -> str:
        return self.name


from crm_modules.service.models_escalations import DeferredEscalation as DeferredEscalation  # noqa: E402
from crm_modules.service.models_reports import TicketTag as TicketTag  # noqa: E402
