from django.urls import path

from crm_modules.sales import views, views_catalogue, views_deals, views_records

app_name = "sales"
urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/new/", views_records.contact_new, name="contact_new"),
    path("contacts/<int:contact_id>/", views_records.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/log/", views_records.contact_log, name="contact_log"),
    path(
        "contacts/<int:contact_id>/consent/",
        views_records.contact_consent,
        name="contact_consent",
    ),
    path("companies/", views.company_list, name="company_list"),
    path("companies/new/", views_records.company_new, name="company_new"),
    path("companies/<int:company_id>/", views_records.company_detail, name="company_detail"),
    path("companies/<int:company_id>/log/", views_records.company_log, name="company_log"),
    path("deals/", views.deal_board, name="deal_board"),
    path("deals/list/", views_deals.deal_list, name="deal_list"),
    path("deals/new/", views_records.deal_new, name="deal_new"),
    path("deals/<int:deal_id>/", views_records.deal_detail, name="deal_detail"),
    path("deals/<int:deal_id>/log/", views_records.deal_log, name="deal_log"),
    path("deals/<int:deal_id>/move/", views_records.deal_move, name="deal_move"),
    path("deals/<int:deal_id>/line-items/", views_deals.deal_line_items, name="deal_line_items"),
    path("pipelines/", views_catalogue.pipeline_admin, name="pipeline_admin"),
    path("pipelines/<int:pipeline_id>/", views_catalogue.pipeline_edit, name="pipeline_edit"),
    path("products/", views_catalogue.product_list, name="product_list"),
    path("products/new/", views_catalogue.product_new, name="product_new"),
    path("products/<int:product_id>/", views_catalogue.product_edit, name="product_edit"),
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/<int:lead_id>/", views_records.lead_detail, name="lead_detail"),
    path("leads/<int:lead_id>/convert/", views_records.lead_convert, name="lead_convert"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:task_id>/done/", views_records.task_done, name="task_done"),
    path("search/", views.search, name="search"),
]
