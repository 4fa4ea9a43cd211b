"""The service REST API under /api/v1/service/: tickets (list by inbox view with cursor
pagination, open, read, change) and their replies and internal notes. Each operation is input
serializer → service → output serializer."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.sales import api as sales
from crm_modules.service import selectors, services
from crm_modules.service.models import (
    Macro,
    Priority,
    RoutingRule,
    Status,
    Ticket,
    TicketChannel,
    TicketMessage,
    TicketType,
)
from crm_modules.service.module import MANAGE_ROUTING, VIEW_TICKETS, WORK_TICKETS
from crm_modules.service.plan import automation_paused_here
from crm_modules.service.services import macros, merge, routing
from crm_modules.service.services.tickets import MAX_BULK
from crm_platform.api.errors import error_body
from crm_platform.api.pagination import KeysetPagination
from crm_platform.api.permissions import declared_capability
from crm_platform.errors import ServiceError
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


class TicketOut(serializers.ModelSerializer[Ticket]):
    custom_fields = serializers.JSONField(source="custom", read_only=True)

    class Meta:
        model = Ticket
        fields = (
            "id", "subject", "description", "status", "priority", "type", "channel", "assignee",
            "team", "tags", "contact", "company", "created_at", "updated_at", "solved_at",
            "closed_at", "first_response_due_at", "first_responded_at",
            "first_response_breached", "next_response_due_at", "next_responded_at",
            "next_response_breached", "resolution_due_at", "resolution_breached",
            "paused_since", "language", "skills", "queued_at", "merged_into", "custom_fields",
            "unverified_sender",
        )  # fmt: skip
        read_only_fields = fields


class TicketIn(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=200, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    channel = serializers.ChoiceField(choices=TicketChannel.choices, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    assignee = serializers.IntegerField(required=False, allow_null=True)
    team = serializers.IntegerField(required=False, allow_null=True)
    contact = serializers.IntegerField(required=False, allow_null=True)
    company = serializers.IntegerField(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False
    )
    language = serializers.CharField(required=False, allow_blank=True, max_length=20)
    custom_fields = serializers.DictField(
        required=False,
        help_text="values of the workspace's ticket custom fields by code; null clears one",
    )


class ReplyOut(serializers.ModelSerializer[TicketMessage]):
    class Meta:
        model = TicketMessage
        fields = ("id", "ticket", "kind", "direction", "body", "author", "created_at")
        read_only_fields = fields


class ReplyIn(serializers.Serializer[Any]):
    body = serializers.CharField(trim_whitespace=False, allow_blank=True)
    public = serializers.BooleanField(
        default=True, help_text="false: an internal note only staff see"
    )
    status = serializers.ChoiceField(
        choices=Status.choices, required=False, help_text="move the ticket in the same step"
    )
    seen_message = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text=(
            "id of the last message the writer saw (0: none); a public reply is then refused "
            "with 409 and the newer customer messages if the customer wrote again meanwhile"
        ),
    )


class NewerMessagesOut(serializers.Serializer[Any]):
    error = serializers.DictField()
    messages = ReplyOut(many=True)


def _ticket(view: Any) -> Ticket:
    capability = declared_capability(view, None, view.request.method)
    ticket = selectors.ticket_get(
        actor=_actor(view.request), ticket_id=view.kwargs["ticket_id"], capability=capability
    )
    view.check_object_permissions(view.request, ticket)
    return ticket


@extend_schema_view(
    get=extend_schema(
        tags=["tickets"],
        parameters=[
            OpenApiParameter("view", str, enum=list(selectors.VIEWS)),
            OpenApiParameter("status", str, enum=Status.values),
            OpenApiParameter("contact", int),
            OpenApiParameter("company", int),
            sales.custom_filter_schema("ticket"),
        ],
        responses=TicketOut(many=True),
        operation_id="ticket_list",
    ),
    post=extend_schema(
        tags=["tickets"], request=TicketIn, responses={201: TicketOut}, operation_id="ticket_create"
    ),
)
class TicketList(generics.GenericAPIView[Ticket]):
    """``cf_<code>=value`` keeps the tickets whose custom field has that value; ``__contains``,
    ``__gte`` and ``__lte`` as on the sales lists (``sales.check_custom_filter``)."""

    capabilities = {"GET": VIEW_TICKETS, "POST": WORK_TICKETS}
    serializer_class = TicketOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Ticket]:
        params = self.request.query_params
        view = params.get("view", "all")
        return selectors.ticket_list(
            actor=_actor(self.request),
            view=view if view in selectors.VIEWS else "all",
            status=params.get("status", ""),
            contact_id=_int(params.get("contact")),
            company_id=_int(params.get("company")),
            custom=selectors.custom_filter(
                actor=_actor(self.request), params=self.request.query_params
            ),
        )

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TicketOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = TicketIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        status_after = values.pop("status", None)
        actor = _actor(request)
        with transaction.atomic():
            ticket = services.ticket_create(
                actor=actor,
                subject=values["subject"],
                description=values.get("description", ""),
                priority=values.get("priority", Priority.NORMAL),
                ticket_type=values.get("type", TicketType.QUESTION),
                channel=values.get("channel", TicketChannel.API),
                contact_id=values.get("contact"),
                company_id=values.get("company"),
                assignee_id=values.get("assignee"),
                team_id=values.get("team"),
                tags=values.get("tags"),
                language=values.get("language", ""),
                custom_fields=values.get("custom_fields"),
                complete_custom=True,
            )
            if status_after and status_after != ticket.status:
                ticket = services.ticket_change_status(
                    actor=actor, ticket=ticket, status=status_after
                )
        return Response(TicketOut(ticket).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(tags=["tickets"], responses=TicketOut, operation_id="ticket_retrieve"),
    patch=extend_schema(
        tags=["tickets"], request=TicketIn, responses=TicketOut, operation_id="ticket_update"
    ),
)
class TicketDetail(generics.GenericAPIView[Ticket]):
    capabilities = {"GET": VIEW_TICKETS, "PATCH": WORK_TICKETS}
    serializer_class = TicketOut

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(TicketOut(_ticket(self)).data)

    def patch(self, request: Request, **kwargs: Any) -> Response:
        ticket = _ticket(self)
        data = TicketIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        actor = _actor(request)
        new_status = values.pop("status", None)
        assign: dict[str, Any] = {}
        if "assignee" in values:
            assign["assignee_id"] = values.pop("assignee")
        if "team" in values:
            assign["team_id"] = values.pop("team")
        values.pop("channel", None)
        values.pop("language", None)
        # Every change or none.
        with transaction.atomic():
            if values:
                ticket = services.ticket_update(actor=actor, ticket=ticket, changes=values)
            if assign:
                ticket = services.ticket_assign(actor=actor, ticket=ticket, **assign)
            if new_status:
                ticket = services.ticket_change_status(
                    actor=actor, ticket=ticket, status=new_status
                )
        ticket = selectors.ticket_get(actor=actor, ticket_id=ticket.pk)
        return Response(TicketOut(ticket).data)


@extend_schema_view(
    get=extend_schema(tags=["tickets"], responses=ReplyOut(many=True), operation_id="reply_list"),
    post=extend_schema(
        tags=["tickets"],
        request=ReplyIn,
        responses={201: ReplyOut, 409: NewerMessagesOut},
        operation_id="reply_create",
    ),
)
class ReplyList(generics.GenericAPIView[TicketMessage]):
    capabilities = {"GET": VIEW_TICKETS, "POST": WORK_TICKETS}
    serializer_class = ReplyOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[TicketMessage]:
        return _ticket(self).messages.all()

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReplyOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        ticket = _ticket(self)
        data = ReplyIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            message = services.ticket_reply(
                actor=_actor(request),
                ticket=ticket,
                body=values["body"],
                public=values["public"],
                status=values.get("status", ""),
                seen_message_id=values.get("seen_message"),
            )
        except services.NewerMessages as error:
            body = error_body(error.code, error.message)
            body["messages"] = ReplyOut(error.messages, many=True).data
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(ReplyOut(message).data, status=status.HTTP_201_CREATED)


class TicketMergeIn(serializers.Serializer[Any]):
    into = serializers.IntegerField(help_text="the ticket that carries on")


class TicketSplitIn(serializers.Serializer[Any]):
    message = serializers.IntegerField(help_text="a reply of this ticket to make a ticket of")


class MacroApplyIn(serializers.Serializer[Any]):
    macro = serializers.IntegerField()
    seen_message = serializers.IntegerField(required=False, min_value=0)


class MacroOut(serializers.ModelSerializer[Macro]):
    class Meta:
        model = Macro
        fields = (
            "id", "name", "body", "public", "status", "priority", "assignee", "team", "add_tags",
        )  # fmt: skip
        read_only_fields = fields


class TicketBulkIn(serializers.Serializer[Any]):
    tickets = serializers.ListField(child=serializers.IntegerField(), max_length=MAX_BULK)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = serializers.IntegerField(required=False, allow_null=True)
    team = serializers.IntegerField(required=False, allow_null=True)
    add_tags = serializers.ListField(child=serializers.CharField(), required=False)
    remove_tags = serializers.ListField(child=serializers.CharField(), required=False)


class TicketBulkOut(serializers.Serializer[Any]):
    changed = serializers.IntegerField()


class AvailabilityIn(serializers.Serializer[Any]):
    available = serializers.BooleanField()


class AvailabilityOut(serializers.Serializer[Any]):
    user = serializers.IntegerField()
    available = serializers.BooleanField()


class RoutingRuleOut(serializers.ModelSerializer[RoutingRule]):
    # True while the workspace's plan leaves workflow automation out: the rule is kept but
    # does not route (ADR 0081).
    paused_by_plan = serializers.SerializerMethodField()

    class Meta:
        model = RoutingRule
        fields = (
            "id", "name", "position", "is_active", "channels", "keywords", "tiers", "languages",
            "team", "skills", "paused_by_plan",
        )  # fmt: skip
        read_only_fields = fields

    def get_paused_by_plan(self, rule: RoutingRule) -> bool:
        return automation_paused_here()


class RoutingRuleIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, trim_whitespace=False)
    team = serializers.IntegerField()
    position = serializers.IntegerField(required=False, min_value=0)
    is_active = serializers.BooleanField(default=True)
    channels = serializers.ListField(child=serializers.CharField(), required=False)
    keywords = serializers.ListField(child=serializers.CharField(), required=False)
    tiers = serializers.ListField(child=serializers.CharField(), required=False)
    languages = serializers.ListField(child=serializers.CharField(), required=False)
    skills = serializers.ListField(child=serializers.CharField(), required=False)


@extend_schema_view(
    post=extend_schema(
        tags=["tickets"], request=TicketMergeIn, responses=TicketOut, operation_id="ticket_merge"
    )
)
class TicketMerge(generics.GenericAPIView[Ticket]):
    capabilities = {"POST": WORK_TICKETS}
    serializer_class = TicketOut

    def post(self, request: Request, **kwargs: Any) -> Response:
        ticket = _ticket(self)
        data = TicketMergeIn(data=request.data)
        data.is_valid(raise_exception=True)
        survivor = merge.ticket_merge(
            actor=_actor(request), ticket=ticket, into_id=data.validated_data["into"]
        )
        return Response(TicketOut(survivor).data)


@extend_schema_view(
    post=extend_schema(
        tags=["tickets"],
        request=TicketSplitIn,
        responses={201: TicketOut},
        operation_id="ticket_split",
    )
)
class TicketSplit(generics.GenericAPIView[Ticket]):
    capabilities = {"POST": WORK_TICKETS}
    serializer_class = TicketOut

    def post(self, request: Request, **kwargs: Any) -> Response:
        ticket = _ticket(self)
        data = TicketSplitIn(data=request.data)
        data.is_valid(raise_exception=True)
        new = merge.ticket_split(
            actor=_actor(request), ticket=ticket, message_id=data.validated_data["message"]
        )
        return Response(TicketOut(new).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        tags=["tickets"],
        request=MacroApplyIn,
        responses={200: TicketOut, 409: NewerMessagesOut},
        operation_id="ticket_apply_macro",
    )
)
class TicketMacro(generics.GenericAPIView[Ticket]):
    capabilities = {"POST": WORK_TICKETS}
    serializer_class = TicketOut

    def post(self, request: Request, **kwargs: Any) -> Response:
        ticket = _ticket(self)
        data = MacroApplyIn(data=request.data)
        data.is_valid(raise_exception=True)
        macro = Macro.objects.filter(pk=data.validated_data["macro"]).first()
        if macro is None:
            raise ServiceError(_("Choose a macro of this workspace."), field="macro")
        actor = _actor(request)
        try:
            macros.macro_apply(
                actor=actor,
                ticket=ticket,
                macro=macro,
                seen_message_id=data.validated_data.get("seen_message"),
            )
        except services.NewerMessages as error:
            body = error_body(error.code, error.message)
            body["messages"] = ReplyOut(error.messages, many=True).data
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(TicketOut(selectors.ticket_get(actor=actor, ticket_id=ticket.pk)).data)


@extend_schema_view(
    get=extend_schema(tags=["tickets"], responses=MacroOut(many=True), operation_id="macro_list")
)
class MacroList(generics.GenericAPIView[Macro]):
    capabilities = {"GET": WORK_TICKETS}
    serializer_class = MacroOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Macro]:
        return Macro.objects.all()

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MacroOut(page, many=True).data)


@extend_schema_view(
    post=extend_schema(
        tags=["tickets"], request=TicketBulkIn, responses=TicketBulkOut, operation_id="tickets_bulk"
    )
)
class TicketBulk(generics.GenericAPIView[Ticket]):
    capability = WORK_TICKETS
    serializer_class = TicketBulkOut

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = TicketBulkIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        kwargs_: dict[str, Any] = {"ticket_ids": values.pop("tickets")}
        if "assignee" in values:
            kwargs_["assignee_id"] = values.pop("assignee")
        if "team" in values:
            kwargs_["team_id"] = values.pop("team")
        kwargs_.update(values)
        changed = services.tickets_bulk(actor=_actor(request), **kwargs_)
        return Response({"changed": changed})


@extend_schema_view(
    post=extend_schema(
        tags=["tickets"],
        request=AvailabilityIn,
        responses=AvailabilityOut,
        operation_id="agent_availability",
    )
)
class Availability(generics.GenericAPIView[Any]):
    capability = WORK_TICKETS
    serializer_class = AvailabilityOut

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = AvailabilityIn(data=request.data)
        data.is_valid(raise_exception=True)
        profile = routing.agent_availability_set(
            actor=_actor(request), available=data.validated_data["available"]
        )
        return Response({"user": profile.user_id, "available": profile.available})


@extend_schema_view(
    get=extend_schema(
        tags=["routing"], responses=RoutingRuleOut(many=True), operation_id="routing_rule_list"
    ),
    post=extend_schema(
        tags=["routing"],
        request=RoutingRuleIn,
        responses={201: RoutingRuleOut},
        operation_id="routing_rule_create",
    ),
)
class RoutingRuleList(generics.GenericAPIView[RoutingRule]):
    capabilities = {"GET": MANAGE_ROUTING, "POST": MANAGE_ROUTING}
    serializer_class = RoutingRuleOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[RoutingRule]:
        return RoutingRule.objects.all()

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RoutingRuleOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = RoutingRuleIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        rule = routing.routing_rule_save(
            actor=_actor(request), team_id=values.pop("team"), **values
        )
        return Response(RoutingRuleOut(rule).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("tickets/", TicketList.as_view(), name="ticket-list"),
    path("tickets/bulk/", TicketBulk.as_view(), name="ticket-bulk"),
    path("tickets/<int:ticket_id>/merge/", TicketMerge.as_view(), name="ticket-merge"),
    path("tickets/<int:ticket_id>/split/", TicketSplit.as_view(), name="ticket-split"),
    path("tickets/<int:ticket_id>/macro/", TicketMacro.as_view(), name="ticket-macro"),
    path("macros/", MacroList.as_view(), name="macro-list"),
    path("availability/", Availability.as_view(), name="availability"),
    path("routing/rules/", RoutingRuleList.as_view(), name="routing-rule-list"),
    path("tickets/<int:ticket_id>/", TicketDetail.as_view(), name="ticket-detail"),
    path("tickets/<int:ticket_id>/replies/", ReplyList.as_view(), name="ticket-replies"),
]
