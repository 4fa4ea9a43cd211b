from django.urls import path

from crm_modules.sales import views, views_duplicates, views_records

app_name = "sales"
urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/new/", views_records.contact_new, name="contact_new"),
    path("contacts/<int:contact_id>/", views_records.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/log/", views_records.contact_log, name="contact_log"),
    path("companies/", views.company_list, name="company_list"),
    path("companies/new/", views_records.company_new, name="company_new"),
    path("companies/<int:company_id>/", views_records.company_detail, name="company_detail"),
    path("companies/<int:company_id>/log/", views_records.company_log, name="company_log"),
    path("deals/", views.deal_board, name="deal_board"),
    path("deals/new/", views_records.deal_new, name="deal_new"),
    path("deals/<int:deal_id>/", views_records.deal_detail, name="deal_detail"),
    path("deals/<int:deal_id>/log/", views_records.deal_log, name="deal_log"),
    path("deals/<int:deal_id>/move/", views_records.deal_move, name="deal_move"),
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/<int:lead_id>/", views_records.lead_detail, name="lead_detail"),
    path("leads/<int:lead_id>/convert/", views_records.lead_convert, name="lead_convert"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:task_id>/done/", views_records.task_done, name="task_done"),
    path("search/", views.search, name="search"),
    path(
        "contacts/duplicates/check/",
        views_duplicates.contact_duplicates_check,
        name="contact_duplicates",
    ),
    path(
        "companies/duplicates/check/",
        views_duplicates.company_duplicates_check,
        name="company_duplicates",
    ),
    path("duplicates/", views_duplicates.duplicates, name="duplicates"),
    path("duplicates/scan/", views_duplicates.duplicates_scan, name="duplicates_scan"),
    path("contacts/merge/", views_duplicates.contact_merge, name="contact_merge"),
    path("companies/merge/", views_duplicates.company_merge, name="company_merge"),
    path("merges/<int:merge_id>/undo/", views_duplicates.merge_undo_view, name="merge_undo"),
]
