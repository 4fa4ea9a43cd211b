from django.db.models import QuerySet
from django.urls import path
from rest_framework import generics, serializers

from tests.kit_module import services
from tests.kit_module.models import Note
from tests.kit_module.module import EDIT_NOTES, VIEW_NOTES
from tests.kit_module.selectors import note_get, note_list


class NoteOut(serializers.ModelSerializer[Note]):
    class Meta:
        model = Note
        fields = ("id", "title", "owner")
        read_only_fields = ("id", "owner")


class NoteList(generics.ListAPIView[Note]):
    capability = VIEW_NOTES
    serializer_class = NoteOut

    def get_queryset(self) -> QuerySet[Note]:
        return note_list(actor=self.request._request.membership)  # type: ignore[attr-defined]


class NoteDetail(generics.RetrieveUpdateAPIView[Note]):
    capabilities = {"GET": VIEW_NOTES, "PUT": EDIT_NOTES, "PATCH": EDIT_NOTES}
    capability = VIEW_NOTES
    serializer_class = NoteOut

    def get_object(self) -> Note:
        note = note_get(actor=self.request._request.membership, note_id=self.kwargs["note_id"])  # type: ignore[attr-defined]
        self.check_object_permissions(self.request, note)
        return note

    def perform_update(self, serializer: NoteOut) -> None:  # type: ignore[override]
        note = serializer.instance
        assert note is not None
        serializer.instance = services.note_rename(
            actor=self.request._request.membership,  # type: ignore[attr-defined]
            note=note,
            title=serializer.validated_data["title"],
        )


urlpatterns = [
    path("", NoteList.as_view(), name="note-list"),
    path("<int:note_id>/", NoteDetail.as_view(), name="note-detail"),
]
