from django.urls import path

from crm_modules.service import views

app_name = "service"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("new/", views.ticket_new, name="ticket_new"),
    path("bulk/", views.tickets_bulk, name="tickets_bulk"),
    path("sla/", views.sla_settings, name="sla"),
    path("satisfaction/", views.csat_results, name="csat"),
    path("<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("<int:ticket_id>/reply/", views.ticket_reply, name="ticket_reply"),
    path("<int:ticket_id>/fields/", views.ticket_fields, name="ticket_fields"),
    path("<int:ticket_id>/assign/", views.ticket_assign, name="ticket_assign"),
]
