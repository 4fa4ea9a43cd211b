from django.urls import path

from tests.kit_module import views

app_name = "kit_module"
urlpatterns = [
    path("", views.note_index, name="list"),
    path("<int:note_id>/rename/", views.note_rename, name="rename"),
]
