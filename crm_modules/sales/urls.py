from django.urls import path

from crm_modules.sales import views

app_name = "sales"
urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("companies/", views.company_list, name="company_list"),
    path("deals/", views.deal_board, name="deal_board"),
    path("leads/", views.lead_list, name="lead_list"),
    path("tasks/", views.task_list, name="task_list"),
]
