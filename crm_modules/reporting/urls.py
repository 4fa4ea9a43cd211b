from django.urls import path

from crm_modules.reporting import views, views_adoption, views_layout, views_quotas, views_rates

app_name = "reporting"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("chart/", views.chart, name="chart"),
    path("layout/", views_layout.layout_page, name="layout"),
    path("layout/change/", views_layout.layout_change, name="layout_change"),
    path("drill/", views.drill, name="drill"),
    path("reports/", views.report_list, name="report_list"),
    path("reports/new/", views.report_save, name="report_save"),
    path("reports/<int:report_id>/", views.report_detail, name="report_detail"),
    path("reports/<int:report_id>/chart/", views.report_chart, name="report_chart"),
    path("reports/<int:report_id>/export.csv", views.report_export, name="report_export"),
    path("reports/<int:report_id>/share/", views.report_share, name="report_share"),
    path("reports/<int:report_id>/pin/", views.report_pin, name="report_pin"),
    path("reports/<int:report_id>/delete/", views.report_delete, name="report_delete"),
    path("reports/<int:report_id>/schedules/new/", views.schedule_create, name="schedule_create"),
    path("schedules/<int:schedule_id>/pause/", views.schedule_pause, name="schedule_pause"),
    path("schedules/<int:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
    path("builder/", views.report_builder, name="builder"),
    path("builder/preview/", views.report_preview, name="preview"),
    path("adoption/", views_adoption.adoption_page, name="adoption"),
    path("quotas/", views_quotas.quotas, name="quotas"),
    path("rates/", views_rates.rates, name="rates"),
    path("rates/set/", views_rates.rate_set, name="rate_set"),
    path("rates/<int:rate_id>/delete/", views_rates.rate_delete, name="rate_delete"),
    path("quotas/set/", views_quotas.quota_set, name="quota_set"),
    path("quotas/<int:quota_id>/delete/", views_quotas.quota_delete, name="quota_delete"),
]
