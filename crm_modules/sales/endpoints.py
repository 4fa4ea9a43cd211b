"""The sales REST API under /api/v1/sales/: companies, contacts, leads, deals, tasks (list with
filters and cursor pagination, create, retrieve, update, delete), pipelines (list) and the lead
conversion action. Each operation is input serializer → service → output serializer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, cast

from django.db import transaction
from django.db.models import Manager, Model, QuerySet
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from crm_modules.activities.api import LOG_ACTIVITY, Activity, timeline
from crm_modules.sales import selectors, services
from crm_modules.sales.custom_filters import CustomFilter, check_custom_filter, custom_filter_schema
from crm_modules.sales.custom_sort import check_custom_sort, custom_sort_schema, is_custom_sort
from crm_modules.sales.endpoints_duplicates import (
    DuplicatesOut,
    possible_duplicates_response,
)
from crm_modules.sales.endpoints_duplicates import urlpatterns as duplicates_urlpatterns
from crm_modules.sales.keyset import ValueOrder, keyset_page
from crm_modules.sales.models import (
    Channel,
    Company,
    Contact,
    CustomField,
    Deal,
    Lead,
    LifecycleStage,
    Pipeline,
    Stage,
    Task,
)
from crm_modules.sales.module import (
    CREATE_RECORDS,
    DELETE_RECORDS,
    EDIT_RECORDS,
    MANAGE_CUSTOM_FIELDS,
    VIEW_RECORDS,
    WORK_TASKS,
)
from crm_modules.sales.services import checks
from crm_modules.sales.services.duplicates import company_duplicates, contact_duplicates
from crm_modules.sales.services.scores import score_explanation, score_explanations
from crm_platform.api.pagination import KeysetPagination
from crm_platform.api.permissions import declared_capability
from crm_platform.errors import ServiceError
from tenants.capabilities import Capability
from tenants.models import Membership

# --- output -------------------------------------------------------------------------------


class CompanyOut(serializers.ModelSerializer[Company]):
    custom_fields = serializers.JSONField(source="custom", read_only=True)

    class Meta:
        model = Company
        fields = (
            "id", "name", "domain", "website", "industry", "size", "parent", "lifecycle_stage",
            "owner", "tags", "notes", "street", "city", "region", "postal_code", "country",
            "custom_fields", "created_at", "updated_at",
        )  # fmt: skip


class ScoreRowOut(serializers.Serializer[Any]):
    rule = serializers.IntegerField()
    name = serializers.CharField()
    points = serializers.IntegerField()


class _ExplainedList(serializers.ListSerializer[Any]):
    """A page of scored records: their score explanations read at once, not one query a row."""

    def to_representation(self, data: Any) -> list[Any]:
        rows = list(data.all() if isinstance(data, Manager) else data)
        context = cast(dict[str, Any], self.context)  # the root's own dict, read by each row
        context["score_explanations"] = dict(
            zip([row.pk for row in rows], score_explanations(rows), strict=True)
        )
        return super().to_representation(rows)


def _explained(serializer: serializers.Serializer[Any], record: Contact | Lead) -> list[Any]:
    page = serializer.context.get("score_explanations")
    return page[record.pk] if page and record.pk in page else score_explanation(record)


class ContactOut(serializers.ModelSerializer[Contact]):
    custom_fields = serializers.JSONField(source="custom", read_only=True)
    score_explanation = serializers.SerializerMethodField()
    emails = serializers.SerializerMethodField()
    phones = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        list_serializer_class = _ExplainedList
        fields = (
            "id", "first_name", "last_name", "job_title", "company", "lifecycle_stage", "owner",
            "tags", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term",
            "utm_content", "preferred_channel", "language", "notes", "primary_email",
            "primary_phone", "emails", "phones", "street", "city", "region", "postal_code",
            "country", "custom_fields", "score", "score_breakdown", "score_explanation",
            "created_at", "updated_at",
        )  # fmt: skip

    def get_emails(self, contact: Contact) -> list[dict[str, Any]]:
        # Ordered here, not by the database: the list prefetches every row's emails and
        # phones in one query each, and a queryset ordering would ask again per row.
        emails = sorted(contact.emails.all(), key=lambda e: (not e.is_primary, e.pk))
        return [{"email": e.email, "primary": e.is_primary} for e in emails]

    @extend_schema_field(ScoreRowOut(many=True))
    def get_score_explanation(self, contact: Contact) -> list[dict[str, Any]]:
        return _explained(self, contact)

    def get_phones(self, contact: Contact) -> list[str]:
        phones = sorted(contact.phones.all(), key=lambda p: (not p.is_primary, p.pk))
        return [p.number for p in phones]


class LeadOut(serializers.ModelSerializer[Lead]):
    status = serializers.CharField(
        read_only=True, help_text="new, working, converted, disqualified"
    )
    custom_fields = serializers.JSONField(source="custom", read_only=True)
    score_explanation = serializers.SerializerMethodField()

    @extend_schema_field(ScoreRowOut(many=True))
    def get_score_explanation(self, lead: Lead) -> list[dict[str, Any]]:
        return _explained(self, lead)

    class Meta:
        model = Lead
        list_serializer_class = _ExplainedList
        fields = (
            "id", "first_name", "last_name", "email", "phone", "company_name", "source",
            "status", "owner", "notes", "tags", "converted_at", "contact", "company", "deal",
            "score", "score_breakdown", "score_explanation", "custom_fields", "created_at",
            "updated_at",
        )  # fmt: skip


class DealOut(serializers.ModelSerializer[Deal]):
    custom_fields = serializers.JSONField(source="custom", read_only=True)
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, coerce_to_string=True)
    status = serializers.CharField(read_only=True, help_text="open, won, lost")

    class Meta:
        model = Deal
        fields = (
            "id", "name", "pipeline", "stage", "status", "amount", "currency",
            "expected_close_date", "owner", "company", "contacts", "tags", "lost_reason",
            "stage_entered_at", "closed_at", "custom_fields", "created_at", "updated_at",
        )  # fmt: skip


class TaskOut(serializers.ModelSerializer[Task]):
    class Meta:
        model = Task
        fields = (
            "id", "title", "due_at", "priority", "owner", "done", "done_at", "contact",
            "company", "deal", "lead", "created_at",
        )  # fmt: skip


class StageOut(serializers.ModelSerializer[Stage]):
    kind = serializers.CharField(read_only=True, help_text="open, won, lost")

    class Meta:
        model = Stage
        fields = ("id", "name", "position", "probability", "kind")


class PipelineOut(serializers.ModelSerializer[Pipeline]):
    stages = StageOut(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ("id", "name", "position", "stages")


# --- input --------------------------------------------------------------------------------


def _text() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True)


ALLOW_DUPLICATES = serializers.BooleanField(
    required=False,
    write_only=True,
    help_text="create even if the record looks like an existing one (else 409 with them)",
)


class _AddressIn(serializers.Serializer[Any]):
    street = _text()
    city = _text()
    region = _text()
    postal_code = _text()
    country = _text()


class CompanyIn(_AddressIn):
    name = serializers.CharField(required=True, allow_blank=True)
    domain = _text()
    website = _text()
    industry = _text()
    size = serializers.ChoiceField(choices=Company.Size.choices, required=False, allow_blank=True)
    parent = serializers.IntegerField(required=False, allow_null=True)  # type: ignore[assignment]
    lifecycle_stage = serializers.ChoiceField(
        choices=LifecycleStage.choices, required=False, allow_blank=True
    )
    owner = serializers.IntegerField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    notes = _text()
    custom_fields = serializers.DictField(required=False)
    allow_duplicates = ALLOW_DUPLICATES


class EmailIn(serializers.Serializer[Any]):
    email = serializers.CharField()
    primary = serializers.BooleanField(default=False)


class ContactIn(_AddressIn):
    first_name = _text()
    last_name = _text()
    job_title = _text()
    company = serializers.IntegerField(required=False, allow_null=True)
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    owner = serializers.IntegerField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    source = _text()  # type: ignore[assignment]
    utm_source = _text()
    utm_medium = _text()
    utm_campaign = _text()
    utm_term = _text()
    utm_content = _text()
    preferred_channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, allow_blank=True
    )
    # Checked by the service (one of settings.LANGUAGES, or blank), which names the field.
    language = _text()
    notes = _text()
    emails = EmailIn(many=True, required=False)
    phones = serializers.ListField(child=serializers.CharField(), required=False)
    custom_fields = serializers.DictField(required=False)
    updated_at = serializers.DateTimeField(required=False)
    allow_duplicates = ALLOW_DUPLICATES


class LeadIn(serializers.Serializer[Any]):
    first_name = _text()
    last_name = _text()
    email = _text()
    phone = _text()
    company_name = _text()
    source = serializers.CharField(required=True, allow_blank=True)  # type: ignore[assignment]
    status = serializers.CharField(required=False, help_text="new, working, disqualified")
    owner = serializers.IntegerField(required=False, allow_null=True)
    notes = _text()
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    custom_fields = serializers.DictField(required=False)
    updated_at = serializers.DateTimeField(required=False)


class DealIn(serializers.Serializer[Any]):
    name = serializers.CharField(required=True, allow_blank=True)
    stage = serializers.IntegerField(required=True)
    amount = serializers.CharField(required=False, allow_blank=True)
    currency = serializers.CharField(required=False, allow_blank=True)
    expected_close_date = serializers.CharField(required=False, allow_blank=True)
    company = serializers.IntegerField(required=False, allow_null=True)
    contacts = serializers.ListField(child=serializers.IntegerField(), required=False)
    owner = serializers.IntegerField(required=False, allow_null=True)
    lost_reason = _text()
    custom_fields = serializers.DictField(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    updated_at = serializers.DateTimeField(required=False)


class TaskIn(serializers.Serializer[Any]):
    title = serializers.CharField(required=True, allow_blank=True)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Task.Priority.choices, required=False)
    owner = serializers.IntegerField(required=False, allow_null=True)
    done = serializers.BooleanField(required=False)
    contact = serializers.IntegerField(required=False, allow_null=True)
    company = serializers.IntegerField(required=False, allow_null=True)
    deal = serializers.IntegerField(required=False, allow_null=True)
    lead = serializers.IntegerField(required=False, allow_null=True)


class LeadConvertIn(serializers.Serializer[Any]):
    contact = serializers.IntegerField(required=False, allow_null=True)
    company = serializers.IntegerField(required=False, allow_null=True)
    deal_name = _text()
    deal_stage = serializers.IntegerField(required=False, allow_null=True)
    deal_amount = serializers.CharField(required=False, allow_blank=True)


# --- views --------------------------------------------------------------------------------


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _amount(params: Any, name: str) -> Decimal | None:
    raw = params.get(name)
    return None if raw in (None, "") else checks.check_amount(raw, field=name)


def _custom_filter(request: Request, entity: str) -> CustomFilter:
    """The ``cf_`` query parameters (``custom_filters``): the same filters as the list pages."""
    return check_custom_filter(actor=_actor(request), entity=entity, params=request.query_params)


class _Resource(generics.GenericAPIView[Any]):
    """One kind of record: subclasses say which serializers, selectors and services."""

    out: ClassVar[type[serializers.Serializer[Any]]]
    into: ClassVar[type[serializers.Serializer[Any]]]
    lookup: ClassVar[str]

    def get_serializer_class(self) -> type[serializers.Serializer[Any]]:
        return self.into if self.request.method in ("POST", "PATCH") else self.out

    def scoped_get(self, capability: Capability) -> Model:
        raise NotImplementedError

    def get_object(self) -> Any:
        capability = declared_capability(self, None, self.request.method)
        record = self.scoped_get(capability)
        self.check_object_permissions(self.request, record)
        return record

    def _input(self, *, partial: bool) -> dict[str, Any]:
        serializer = self.into(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class _Detail(_Resource):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.out(self.get_object()).data)

    def patch(self, request: Request, **kwargs: Any) -> Response:
        record = self.get_object()
        data = self._input(partial=True)
        return Response(self.out(self.update(record, data)).data)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        self.destroy(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def update(self, record: Any, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def destroy(self, record: Any) -> None:
        raise NotImplementedError


class _List(_Resource):
    # The record type a list is of, for its ``sort`` by a custom field (``custom_sort``).
    entity: ClassVar[str] = ""
    # The order ``sort`` asked for, read before the queryset (CustomSortPagination uses it).
    custom_order: ValueOrder | None = None

    def get(self, request: Request, **kwargs: Any) -> Response:
        self.custom_order = _custom_order(request, self.entity)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.out(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        record = self.create(self._input(partial=False))
        return Response(self.out(record).data, status=status.HTTP_201_CREATED)

    def create(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError


def _custom_order(request: Request, entity: str) -> ValueOrder | None:
    """The custom-field order ``sort`` asks for (``custom_sort``); a ``sort`` that names no
    field that can order the list answers 400 naming ``sort``."""
    raw = request.query_params.get("sort", "")
    if not raw or not entity:
        return None
    if not is_custom_sort(raw):
        raise ServiceError(
            _("Sort by a custom field: cf_<code>, or -cf_<code> for descending."), field="sort"
        )
    return check_custom_sort(entity=entity, raw=raw)


class CustomSortPagination(KeysetPagination):
    """DRF's cursor pages, or with ``sort=cf_<code>`` keyset pages on the field's typed value
    and the primary key (``keyset.ValueOrder``): DRF's cursor keeps only the first sort column
    and skips ties by offset, which neither places records without a value nor stays cheap
    among many equal values. ``previous`` leads back a page, as DRF's does."""

    custom_next: str | None = None
    custom_previous: str = ""

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        order = getattr(view, "custom_order", None)
        if order is None:
            self.custom_next = None
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        size = self.get_page_size(request) or self.page_size
        page = keyset_page(
            queryset,
            order=order,
            after=request.query_params.get(self.cursor_query_param, ""),
            size=size,
        )
        self.custom_next = page.next_cursor
        self.custom_previous = page.previous_cursor
        return page.rows

    def get_paginated_response(self, data: Any) -> Response:
        if self.custom_next is None:
            return super().get_paginated_response(data)
        here = self.request.build_absolute_uri()
        following, preceding = (
            replace_query_param(here, self.cursor_query_param, cursor) if cursor else None
            for cursor in (self.custom_next, self.custom_previous)
        )
        return Response({"next": following, "previous": preceding, "results": data})


class ScoreOrderedPagination(CustomSortPagination):
    """Newest first, or by lead score (``ordering=-score``, served by the score indexes)."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple[str, ...]:
        if request.query_params.get("ordering") == "-score":
            return ("-score", "-pk")
        return ("-pk",)


SCORE_PARAMS = [
    OpenApiParameter("ordering", str, enum=["-score"], description="highest lead score first"),
    OpenApiParameter("min_score", int, description="only records scoring at least this"),
]
SEARCH = OpenApiParameter("q", str, description="substring of names, emails, phones, domain")
OWNER = OpenApiParameter("owner", int, description="owner's user id")
TAG = OpenApiParameter("tag", str, description="only records carrying this tag")


# companies


@extend_schema_view(
    get=extend_schema(
        tags=["companies"],
        parameters=[
            SEARCH,
            OWNER,
            custom_filter_schema("company"),
            custom_sort_schema("company"),
        ],
        responses=CompanyOut(many=True),
        operation_id="company_list",
    ),
    post=extend_schema(
        tags=["companies"],
        request=CompanyIn,
        responses={201: CompanyOut, 409: DuplicatesOut},
        operation_id="company_create",
    ),
)
class CompanyList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": CREATE_RECORDS}
    entity = "company"
    pagination_class = CustomSortPagination
    out, into = CompanyOut, CompanyIn

    def get_queryset(self) -> QuerySet[Company]:
        params = self.request.query_params
        return selectors.company_list(
            actor=_actor(self.request),
            q=params.get("q", ""),
            owner_id=_int(params.get("owner")),
            custom=_custom_filter(self.request, "company"),
        )

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = self._input(partial=False)
        if not data.pop("allow_duplicates", False):
            matches = company_duplicates(name=data.get("name", ""), domain=data.get("domain", ""))
            if matches:
                return possible_duplicates_response(matches)
        return Response(CompanyOut(self.create(data)).data, status=status.HTTP_201_CREATED)

    def create(self, data: dict[str, Any]) -> Company:
        owner = data.pop("owner", None)
        data.pop("allow_duplicates", None)
        return services.company_create(
            actor=_actor(self.request), owner_id=owner, complete_custom=True, **data
        )


@extend_schema_view(
    get=extend_schema(tags=["companies"], responses=CompanyOut, operation_id="company_retrieve"),
    patch=extend_schema(
        tags=["companies"], request=CompanyIn, responses=CompanyOut, operation_id="company_update"
    ),
    delete=extend_schema(tags=["companies"], responses={204: None}, operation_id="company_delete"),
)
class CompanyDetail(_Detail):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": EDIT_RECORDS, "DELETE": DELETE_RECORDS}
    out, into = CompanyOut, CompanyIn

    def scoped_get(self, capability: Capability) -> Company:
        return selectors.company_get(
            actor=_actor(self.request), company_id=self.kwargs["company_id"], capability=capability
        )

    def update(self, record: Company, data: dict[str, Any]) -> Company:
        data.pop("allow_duplicates", None)
        return services.company_update(actor=_actor(self.request), company=record, changes=data)

    def destroy(self, record: Company) -> None:
        services.company_delete(actor=_actor(self.request), company=record)


# contacts


@extend_schema_view(
    get=extend_schema(
        tags=["contacts"],
        parameters=[
            SEARCH,
            OWNER,
            OpenApiParameter("lifecycle_stage", str),
            OpenApiParameter("company", int),
            *SCORE_PARAMS,
            custom_filter_schema("contact"),
            custom_sort_schema("contact"),
        ],
        responses=ContactOut(many=True),
        operation_id="contact_list",
    ),
    post=extend_schema(
        tags=["contacts"],
        request=ContactIn,
        responses={201: ContactOut, 409: DuplicatesOut},
        operation_id="contact_create",
    ),
)
class ContactList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": CREATE_RECORDS}
    entity = "contact"
    out, into = ContactOut, ContactIn
    pagination_class = ScoreOrderedPagination

    def get_queryset(self) -> QuerySet[Contact]:
        params = self.request.query_params
        stage = params.get("lifecycle_stage", "")
        return selectors.contact_list(
            actor=_actor(self.request),
            q=params.get("q", ""),
            owner_id=_int(params.get("owner")),
            lifecycle_stage=stage if stage in LifecycleStage.values else "",
            company_id=_int(params.get("company")),
            custom=_custom_filter(self.request, "contact"),
            min_score=_int(params.get("min_score")),
        ).prefetch_related("emails", "phones")

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = self._input(partial=False)
        if not data.pop("allow_duplicates", False):
            matches = contact_duplicates(
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                emails=[dict(e) for e in data.get("emails", [])],
                phones=data.get("phones", []),
            )
            if matches:
                return possible_duplicates_response(matches)
        return Response(ContactOut(self.create(data)).data, status=status.HTTP_201_CREATED)

    def create(self, data: dict[str, Any]) -> Contact:
        owner = data.pop("owner", None)
        data.pop("updated_at", None)
        data.pop("allow_duplicates", None)
        return services.contact_create(
            actor=_actor(self.request), owner_id=owner, complete_custom=True, **data
        )


@extend_schema_view(
    get=extend_schema(tags=["contacts"], responses=ContactOut, operation_id="contact_retrieve"),
    patch=extend_schema(
        tags=["contacts"], request=ContactIn, responses=ContactOut, operation_id="contact_update"
    ),
    delete=extend_schema(tags=["contacts"], responses={204: None}, operation_id="contact_delete"),
)
class ContactDetail(_Detail):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": EDIT_RECORDS, "DELETE": DELETE_RECORDS}
    out, into = ContactOut, ContactIn

    def scoped_get(self, capability: Capability) -> Contact:
        return selectors.contact_get(
            actor=_actor(self.request), contact_id=self.kwargs["contact_id"], capability=capability
        )

    def update(self, record: Contact, data: dict[str, Any]) -> Contact:
        data.pop("allow_duplicates", None)
        seen = data.pop("updated_at", None)
        company = data.pop("company", record.company_id) if "company" in data else record.company_id
        actor = _actor(self.request)
        if company != record.company_id:
            target = selectors.company_get(actor=actor, company_id=company) if company else None
            record = services.contact_move_company(actor=actor, contact=record, company=target)
        if "emails" in data:
            data["emails"] = [dict(e) for e in data["emails"]]
        return services.contact_update(
            actor=actor, contact=record, changes=data, expected_updated_at=seen
        )

    def destroy(self, record: Contact) -> None:
        services.contact_delete(actor=_actor(self.request), contact=record)


# leads


@extend_schema_view(
    get=extend_schema(
        tags=["leads"],
        parameters=[
            SEARCH,
            OWNER,
            OpenApiParameter("status", str),
            TAG,
            *SCORE_PARAMS,
            custom_filter_schema("lead"),
            custom_sort_schema("lead"),
        ],
        responses=LeadOut(many=True),
        operation_id="lead_list",
    ),
    post=extend_schema(
        tags=["leads"], request=LeadIn, responses={201: LeadOut}, operation_id="lead_create"
    ),
)
class LeadList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": CREATE_RECORDS}
    entity = "lead"
    pagination_class = ScoreOrderedPagination
    out, into = LeadOut, LeadIn

    def get_queryset(self) -> QuerySet[Lead]:
        params = self.request.query_params
        lead_status = params.get("status", "")
        return selectors.lead_list(
            actor=_actor(self.request),
            q=params.get("q", ""),
            status=lead_status if lead_status in Lead.Status.values else "",
            owner_id=_int(params.get("owner")),
            min_score=_int(params.get("min_score")),
            tag=params.get("tag", ""),
            custom=_custom_filter(self.request, "lead"),
        )

    def create(self, data: dict[str, Any]) -> Lead:
        owner = data.pop("owner", None)
        data.pop("updated_at", None)
        return services.lead_create(
            actor=_actor(self.request), owner_id=owner, complete_custom=True, **data
        )


@extend_schema_view(
    get=extend_schema(tags=["leads"], responses=LeadOut, operation_id="lead_retrieve"),
    patch=extend_schema(
        tags=["leads"], request=LeadIn, responses=LeadOut, operation_id="lead_update"
    ),
    delete=extend_schema(tags=["leads"], responses={204: None}, operation_id="lead_delete"),
)
class LeadDetail(_Detail):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": EDIT_RECORDS, "DELETE": DELETE_RECORDS}
    out, into = LeadOut, LeadIn

    def scoped_get(self, capability: Capability) -> Lead:
        return selectors.lead_get(
            actor=_actor(self.request), lead_id=self.kwargs["lead_id"], capability=capability
        )

    def update(self, record: Lead, data: dict[str, Any]) -> Lead:
        seen = data.pop("updated_at", None)
        return services.lead_update(
            actor=_actor(self.request), lead=record, changes=data, expected_updated_at=seen
        )

    def destroy(self, record: Lead) -> None:
        services.lead_delete(actor=_actor(self.request), lead=record)


class LeadConvert(_Resource):
    """Convert a lead: contact, company and optionally a deal in one step."""

    capability = EDIT_RECORDS
    out, into = LeadOut, LeadConvertIn

    def scoped_get(self, capability: Capability) -> Lead:
        return selectors.lead_get(
            actor=_actor(self.request), lead_id=self.kwargs["lead_id"], capability=capability
        )

    @extend_schema(
        tags=["leads"], request=LeadConvertIn, responses={200: LeadOut}, operation_id="lead_convert"
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        lead = self.get_object()
        data = self._input(partial=False)
        actor = _actor(request)
        contact = (
            selectors.contact_get(actor=actor, contact_id=data["contact"])
            if data.get("contact")
            else None
        )
        company = (
            selectors.company_get(actor=actor, company_id=data["company"])
            if data.get("company")
            else None
        )
        result = services.lead_convert(
            actor=actor,
            lead=lead,
            contact=contact,
            company=company,
            deal_name=data.get("deal_name", ""),
            deal_stage=data.get("deal_stage"),
            deal_amount=data.get("deal_amount"),
        )
        return Response(LeadOut(result.lead).data)


# deals


@extend_schema_view(
    get=extend_schema(
        tags=["deals"],
        parameters=[
            SEARCH,
            OWNER,
            OpenApiParameter("pipeline", int),
            OpenApiParameter("stage", int),
            OpenApiParameter("status", str),
            OpenApiParameter("company", int),
            OpenApiParameter("close_from", str, description="expected close date from, YYYY-MM-DD"),
            OpenApiParameter("close_to", str, description="expected close date until, YYYY-MM-DD"),
            OpenApiParameter("amount_min", str),
            OpenApiParameter("amount_max", str),
            TAG,
            custom_filter_schema("deal"),
            custom_sort_schema("deal"),
        ],
        responses=DealOut(many=True),
        operation_id="deal_list",
    ),
    post=extend_schema(
        tags=["deals"], request=DealIn, responses={201: DealOut}, operation_id="deal_create"
    ),
)
class DealList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": CREATE_RECORDS}
    entity = "deal"
    pagination_class = CustomSortPagination
    out, into = DealOut, DealIn

    def get_queryset(self) -> QuerySet[Deal]:
        params = self.request.query_params
        deal_status = params.get("status", "")
        return selectors.deal_list(
            actor=_actor(self.request),
            q=params.get("q", ""),
            pipeline_id=_int(params.get("pipeline")),
            stage_id=_int(params.get("stage")),
            status=deal_status if deal_status in Deal.Status.values else "",
            owner_id=_int(params.get("owner")),
            company_id=_int(params.get("company")),
            custom=_custom_filter(self.request, "deal"),
            close_from=checks.check_date(params.get("close_from"), field="close_from"),
            close_to=checks.check_date(params.get("close_to"), field="close_to"),
            amount_min=_amount(params, "amount_min"),
            amount_max=_amount(params, "amount_max"),
            tag=params.get("tag", ""),
        ).prefetch_related("contacts")

    def create(self, data: dict[str, Any]) -> Deal:
        owner = data.pop("owner", None)
        data.pop("updated_at", None)
        return services.deal_create(
            actor=_actor(self.request), owner_id=owner, complete_custom=True, **data
        )


@extend_schema_view(
    get=extend_schema(tags=["deals"], responses=DealOut, operation_id="deal_retrieve"),
    patch=extend_schema(
        tags=["deals"], request=DealIn, responses=DealOut, operation_id="deal_update"
    ),
    delete=extend_schema(tags=["deals"], responses={204: None}, operation_id="deal_delete"),
)
class DealDetail(_Detail):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": EDIT_RECORDS, "DELETE": DELETE_RECORDS}
    out, into = DealOut, DealIn

    def scoped_get(self, capability: Capability) -> Deal:
        return selectors.deal_get(
            actor=_actor(self.request), deal_id=self.kwargs["deal_id"], capability=capability
        )

    def update(self, record: Deal, data: dict[str, Any]) -> Deal:
        seen = data.pop("updated_at", None)
        actor = _actor(self.request)
        stage = data.pop("stage", None)
        reason = data.pop("lost_reason", "")
        if data or seen is not None:
            record = services.deal_update(
                actor=actor, deal=record, changes=data, expected_updated_at=seen
            )
        if stage is not None and stage != record.stage_id:
            record = services.deal_move_stage(
                actor=actor, deal=record, stage=stage, lost_reason=reason
            )
        return record

    def destroy(self, record: Deal) -> None:
        services.deal_delete(actor=_actor(self.request), deal=record)


@extend_schema(tags=["deals"], responses=PipelineOut)
class PipelineList(generics.ListAPIView[Any]):
    capability = VIEW_RECORDS
    serializer_class = PipelineOut
    pagination_class = None

    def get_queryset(self) -> QuerySet[Pipeline]:
        return selectors.pipeline_list(actor=_actor(self.request))


# tasks


@extend_schema_view(
    get=extend_schema(
        tags=["tasks"],
        parameters=[OpenApiParameter("mine", bool), OpenApiParameter("when", str)],
        responses=TaskOut(many=True),
        operation_id="task_list",
    ),
    post=extend_schema(
        tags=["tasks"], request=TaskIn, responses={201: TaskOut}, operation_id="task_create"
    ),
)
class TaskList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": WORK_TASKS}
    out, into = TaskOut, TaskIn

    def get_queryset(self) -> QuerySet[Task]:
        params = self.request.query_params
        return selectors.task_list(
            actor=_actor(self.request),
            mine=params.get("mine") in ("1", "true"),
            when=params.get("when", ""),
        )

    def create(self, data: dict[str, Any]) -> Task:
        owner = data.pop("owner", None)
        data.pop("done", None)
        return services.task_create(actor=_actor(self.request), owner_id=owner, **data)


@extend_schema_view(
    get=extend_schema(tags=["tasks"], responses=TaskOut, operation_id="task_retrieve"),
    patch=extend_schema(
        tags=["tasks"], request=TaskIn, responses=TaskOut, operation_id="task_update"
    ),
    delete=extend_schema(tags=["tasks"], responses={204: None}, operation_id="task_delete"),
)
class TaskDetail(_Detail):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": WORK_TASKS, "DELETE": WORK_TASKS}
    out, into = TaskOut, TaskIn

    def scoped_get(self, capability: Capability) -> Task:
        return selectors.task_get(
            actor=_actor(self.request), task_id=self.kwargs["task_id"], capability=capability
        )

    def update(self, record: Task, data: dict[str, Any]) -> Task:
        done = data.pop("done", None)
        actor = _actor(self.request)
        if data:
            record = services.task_update(actor=actor, task=record, changes=data)
        if done is not None:
            record = services.task_complete(actor=actor, task=record, done=done)
        return record

    def destroy(self, record: Task) -> None:
        services.task_delete(actor=_actor(self.request), task=record)


class CustomFieldOut(serializers.ModelSerializer[CustomField]):
    archived = serializers.SerializerMethodField()

    class Meta:
        model = CustomField
        fields = (
            "id", "entity", "code", "label", "type", "options", "position", "help_text",
            "required", "customer_visible", "default_value", "archived",
        )  # fmt: skip

    def get_archived(self, field: CustomField) -> bool:
        return field.archived_at is not None


class CustomFieldIn(serializers.Serializer[Any]):
    entity = serializers.CharField()
    code = serializers.CharField()
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]
    type = serializers.CharField()
    options = serializers.ListField(child=serializers.CharField(), required=False)
    help_text = serializers.CharField(allow_blank=True, required=False)  # type: ignore[assignment]
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    customer_visible = serializers.BooleanField(required=False)
    default_value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="the value new records get when they leave the field out; null for none",
    )


class CustomFieldPatch(serializers.Serializer[Any]):
    """What may change once a field exists; ``archived`` archives or restores it."""

    label = serializers.CharField(allow_blank=True, required=False)  # type: ignore[assignment]
    help_text = serializers.CharField(allow_blank=True, required=False)  # type: ignore[assignment]
    options = serializers.ListField(child=serializers.CharField(), required=False)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    position = serializers.IntegerField(required=False)
    customer_visible = serializers.BooleanField(required=False)
    default_value = serializers.JSONField(required=False, allow_null=True)
    archived = serializers.BooleanField(required=False)


@extend_schema_view(
    get=extend_schema(
        tags=["custom fields"],
        parameters=[
            OpenApiParameter("entity", str),
            OpenApiParameter("archived", bool, description="include archived fields"),
        ],
        responses=CustomFieldOut(many=True),
        operation_id="customfield_list",
    ),
    post=extend_schema(
        tags=["custom fields"],
        request=CustomFieldIn,
        responses={201: CustomFieldOut},
        operation_id="customfield_create",
    ),
)
class CustomFieldList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": MANAGE_CUSTOM_FIELDS}
    out, into = CustomFieldOut, CustomFieldIn

    def get_queryset(self) -> QuerySet[CustomField]:
        return selectors.custom_field_list(
            actor=_actor(self.request),
            entity=self.request.query_params.get("entity", ""),
            include_archived=self.request.query_params.get("archived") in ("1", "true"),
        )

    def create(self, data: dict[str, Any]) -> CustomField:
        return services.custom_field_create(actor=_actor(self.request), **data)


@extend_schema_view(
    get=extend_schema(
        tags=["custom fields"], responses=CustomFieldOut, operation_id="customfield_retrieve"
    ),
    patch=extend_schema(
        tags=["custom fields"],
        request=CustomFieldPatch,
        responses=CustomFieldOut,
        operation_id="customfield_update",
    ),
    delete=extend_schema(
        tags=["custom fields"], responses={204: None}, operation_id="customfield_delete"
    ),
)
class CustomFieldDetail(_Resource):
    capabilities = {
        "GET": VIEW_RECORDS,
        "PATCH": MANAGE_CUSTOM_FIELDS,
        "DELETE": MANAGE_CUSTOM_FIELDS,
    }
    out, into = CustomFieldOut, CustomFieldPatch

    def scoped_get(self, capability: Capability) -> CustomField:
        return selectors.custom_field_get(
            actor=_actor(self.request), field_id=self.kwargs["field_id"]
        )

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.out(self.get_object()).data)

    def patch(self, request: Request, **kwargs: Any) -> Response:
        field = self.get_object()
        data = self._input(partial=True)
        archived = data.pop("archived", None)
        actor = _actor(request)
        with transaction.atomic():
            if data:
                field = services.custom_field_update(actor=actor, field=field, changes=data)
            if archived is not None:
                field = services.custom_field_archive(actor=actor, field=field, archived=archived)
        return Response(self.out(field).data)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        services.custom_field_delete(actor=_actor(request), field=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityOut(serializers.ModelSerializer[Activity]):
    class Meta:
        model = Activity
        fields = (
            "id", "kind", "subject", "body", "channel", "direction", "outcome", "occurred_at",
            "author",
        )  # fmt: skip


class ActivityIn(serializers.Serializer[Any]):
    kind = serializers.CharField()
    subject = _text()
    body = _text()
    direction = _text()
    outcome = _text()
    occurred_at = serializers.DateTimeField(required=False)


TIMELINE_LIMIT = 50


class _RecordActivities(_Resource):
    """A record's timeline (newest first) and logging a call, meeting, email or note on it."""

    capabilities = {"GET": VIEW_RECORDS, "POST": LOG_ACTIVITY}
    out, into = ActivityOut, ActivityIn

    def get(self, request: Request, **kwargs: Any) -> Response:
        entries = timeline(self.get_object(), limit=TIMELINE_LIMIT)
        return Response(ActivityOut(entries, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        record = self.get_object()
        data = self._input(partial=False)
        activity = services.record_log_activity(actor=_actor(request), record=record, **data)
        return Response(ActivityOut(activity).data, status=status.HTTP_201_CREATED)


def _activities_view(name: str, getter: Any, kwarg: str) -> type[_RecordActivities]:
    def scoped_get(self: _RecordActivities, capability: Capability) -> Model:
        record: Model = getter(actor=_actor(self.request), **{kwarg: self.kwargs[kwarg]})
        return record

    view = type(f"{name.title()}Activities", (_RecordActivities,), {"scoped_get": scoped_get})
    return extend_schema_view(
        get=extend_schema(
            tags=["activities"],
            responses=ActivityOut(many=True),
            operation_id=f"{name}_activity_list",
        ),
        post=extend_schema(
            tags=["activities"],
            request=ActivityIn,
            responses={201: ActivityOut},
            operation_id=f"{name}_activity_create",
        ),
    )(view)


ContactActivities = _activities_view("contact", selectors.contact_get, "contact_id")
CompanyActivities = _activities_view("company", selectors.company_get, "company_id")
DealActivities = _activities_view("deal", selectors.deal_get, "deal_id")
LeadActivities = _activities_view("lead", selectors.lead_get, "lead_id")


urlpatterns = [
    path(
        "contacts/<int:contact_id>/activities/",
        ContactActivities.as_view(),
        name="contact-activities",
    ),
    path(
        "companies/<int:company_id>/activities/",
        CompanyActivities.as_view(),
        name="company-activities",
    ),
    path("deals/<int:deal_id>/activities/", DealActivities.as_view(), name="deal-activities"),
    path("leads/<int:lead_id>/activities/", LeadActivities.as_view(), name="lead-activities"),
    path("custom-fields/", CustomFieldList.as_view(), name="custom-field-list"),
    path("custom-fields/<int:field_id>/", CustomFieldDetail.as_view(), name="custom-field-detail"),
    path("companies/", CompanyList.as_view(), name="company-list"),
    path("companies/<int:company_id>/", CompanyDetail.as_view(), name="company-detail"),
    path("contacts/", ContactList.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", ContactDetail.as_view(), name="contact-detail"),
    path("leads/", LeadList.as_view(), name="lead-list"),
    path("leads/<int:lead_id>/", LeadDetail.as_view(), name="lead-detail"),
    path("leads/<int:lead_id>/convert/", LeadConvert.as_view(), name="lead-convert"),
    path("pipelines/", PipelineList.as_view(), name="pipeline-list"),
    path("deals/", DealList.as_view(), name="deal-list"),
    path("deals/<int:deal_id>/", DealDetail.as_view(), name="deal-detail"),
    path("tasks/", TaskList.as_view(), name="task-list"),
    path("tasks/<int:task_id>/", TaskDetail.as_view(), name="task-detail"),
]


# The catalogue's views are built on the classes above, so they are imported last.
from crm_modules.sales import endpoints_catalogue as catalogue  # noqa: E402
from crm_modules.sales import endpoints_consents as consents  # noqa: E402
from crm_modules.sales import endpoints_lists as lists  # noqa: E402

urlpatterns += [
    path(
        "contacts/<int:contact_id>/consents/",
        consents.ContactConsents.as_view(),
        name="contact-consents",
    ),
    path(
        "pipelines/<int:pipeline_id>/", catalogue.PipelineDetail.as_view(), name="pipeline-detail"
    ),
    path(
        "pipelines/<int:pipeline_id>/stages/",
        catalogue.PipelineStages.as_view(),
        name="pipeline-stages",
    ),
    path(
        "pipelines/<int:pipeline_id>/stages/<int:stage_id>/",
        catalogue.PipelineStageDetail.as_view(),
        name="pipeline-stage-detail",
    ),
    path("products/", catalogue.ProductList.as_view(), name="product-list"),
    path("products/<int:product_id>/", catalogue.ProductDetail.as_view(), name="product-detail"),
    path(
        "deals/<int:deal_id>/line-items/",
        catalogue.DealLineItems.as_view(),
        name="deal-line-items",
    ),
    path(
        "deals/<int:deal_id>/line-items/<int:item_id>/",
        catalogue.DealLineItemDetail.as_view(),
        name="deal-line-item-detail",
    ),
]
urlpatterns += duplicates_urlpatterns
urlpatterns += [
    path("views/", lists.SavedViewList.as_view(), name="saved-view-list"),
    path("views/<int:view_id>/", lists.SavedViewDetail.as_view(), name="saved-view-detail"),
    path("companies/bulk/", lists.CompanyBulk.as_view(), name="company-bulk"),
    path("contacts/bulk/", lists.ContactBulk.as_view(), name="contact-bulk"),
    path("leads/bulk/", lists.LeadBulk.as_view(), name="lead-bulk"),
    path("deals/bulk/", lists.DealBulk.as_view(), name="deal-bulk"),
]
