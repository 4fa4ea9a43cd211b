"""The service REST API under /api/v1/service/: tickets (list by inbox view with cursor
pagination, open, read, change) and their replies and internal notes. Each operation is input
serializer → service → output serializer."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.service import selectors, services
from crm_modules.service.models import (
    Priority,
    Status,
    Ticket,
    TicketChannel,
    TicketMessage,
    TicketType,
)
from crm_modules.service.module import VIEW_TICKETS, WORK_TICKETS
from crm_platform.api.errors import error_body
from crm_platform.api.pagination import KeysetPagination
from crm_platform.api.permissions import declared_capability
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
    class Meta:
        model = Ticket
        fields = (
            "id", "subject", "description", "status", "priority", "type", "channel", "assignee",
            "team", "tags", "contact", "company", "created_at", "updated_at", "solved_at",
            "closed_at", "first_response_due_at", "first_responded_at",
            "first_response_breached", "resolution_due_at", "resolution_breached",
            "paused_since",
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
        ],
        responses=TicketOut(many=True),
        operation_id="ticket_list",
    ),
    post=extend_schema(
        tags=["tickets"], request=TicketIn, responses={201: TicketOut}, operation_id="ticket_create"
    ),
)
class TicketList(generics.GenericAPIView[Ticket]):
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


urlpatterns = [
    path("tickets/", TicketList.as_view(), name="ticket-list"),
    path("tickets/<int:ticket_id>/", TicketDetail.as_view(), name="ticket-detail"),
    path("tickets/<int:ticket_id>/replies/", ReplyList.as_view(), name="ticket-replies"),
]
