from django.urls import path

from tests.kit_module.consumers import NotesConsumer

websocket_urlpatterns = [path("ws/notes/", NotesConsumer.as_asgi())]
