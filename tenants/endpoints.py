"""API endpoints of the workspace core: the members of the workspace."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from tenants import capabilities
from tenants.models import Membership
from tenants.selectors import member_get


class MemberOut(serializers.ModelSerializer[Membership]):
    name = serializers.CharField(source="user.full_name")
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ("id", "name", "email", "role", "status", "team", "created_at", "last_seen_at")


@extend_schema(tags=["members"])
class MemberList(generics.ListAPIView[Membership]):
    """The workspace's members, newest seat first."""

    capability = capabilities.USE_WORKSPACE
    serializer_class = MemberOut

    def get_queryset(self) -> QuerySet[Membership]:
        return Membership.objects.filter(tenant=self.request.tenant).select_related("user")  # type: ignore[attr-defined]


@extend_schema(tags=["members"])
class MemberDetail(generics.RetrieveAPIView[Membership]):
    capability = capabilities.USE_WORKSPACE
    serializer_class = MemberOut

    def get_object(self) -> Membership:
        member = member_get(tenant=self.request.tenant, member_id=self.kwargs["member_id"])  # type: ignore[attr-defined]
        self.check_object_permissions(self.request, member)
        return member


urlpatterns = [
    path("members/", MemberList.as_view(), name="member-list"),
    path("members/<int:member_id>/", MemberDetail.as_view(), name="member-detail"),
]
