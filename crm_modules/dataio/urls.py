from django.urls import path

from crm_modules.dataio import views

app_name = "dataio"
urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/upload/", views.import_upload, name="import_upload"),
    path("imports/<int:import_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:import_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:import_id>/field/", views.import_field_create, name="import_field_create"),
    path("imports/<int:import_id>/start/", views.import_start, name="import_start"),
    path("imports/<int:import_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:import_id>/errors.csv", views.import_errors, name="import_errors"),
    path("imports/<int:import_id>/undo/", views.import_undo, name="import_undo"),
    # One URL per list (no id in the path: every member exports their own workspace's list).
    path("export/contacts/", views.export, {"entity": "contact"}, name="export_contact"),
    path("export/companies/", views.export, {"entity": "company"}, name="export_company"),
    path("export/leads/", views.export, {"entity": "lead"}, name="export_lead"),
    path("export/deals/", views.export, {"entity": "deal"}, name="export_deal"),
    path("audit-log.csv", views.audit_log_export, name="audit_log_export"),
    path("exports/", views.export_list, name="export_list"),
    path("exports/<int:export_id>/download/", views.export_download, name="export_download"),
]
