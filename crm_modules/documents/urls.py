from django.urls import path

from crm_modules.documents import views, views_logo

app_name = "documents"
urlpatterns = [
    path("", views.document_index, name="list"),
    path("uploads/", views.upload_start, name="upload_start"),
    path("uploads/complete/", views.upload_complete, name="upload_complete"),
    path("uploads/resume/", views.upload_resume, name="upload_resume"),
    path("uploads/abort/", views.upload_abort, name="upload_abort"),
    path("<int:document_id>/", views.document_detail, name="detail"),
    path("<int:document_id>/download/", views.document_download, name="download"),
    path("<int:document_id>/thumbnail/", views.document_thumbnail, name="thumbnail"),
    path("<int:document_id>/versions/", views.version_upload_start, name="version_upload_start"),
    path(
        "<int:document_id>/versions/<int:version_number>/restore/",
        views.version_restore,
        name="version_restore",
    ),
    path("<int:document_id>/delete/", views.document_delete, name="delete"),
    path("<int:document_id>/links/", views.document_link, name="link"),
    path("<int:document_id>/links/remove/", views.document_unlink, name="unlink"),
    path("links/choices/", views.link_choices, name="link_choices"),
    path("logo/", views_logo.logo_image, name="logo"),
    path("logo/uploads/", views_logo.logo_upload_start, name="logo_upload_start"),
    path("logo/uploads/complete/", views_logo.logo_upload_complete, name="logo_upload_complete"),
    path("logo/remove/", views_logo.logo_remove, name="logo_remove"),
    path("trash/<int:trashed_document_id>/restore/", views.document_restore, name="restore"),
]
