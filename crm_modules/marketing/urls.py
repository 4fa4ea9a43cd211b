from django.urls import path

from crm_modules.marketing import views, views_attribution
from crm_modules.marketing.capture import public
from crm_modules.marketing.capture import views as form_views

app_name = "marketing"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
    path("forms/", form_views.form_list, name="forms"),
    path("forms/new/", form_views.form_new, name="form_new"),
    path("forms/<int:form_id>/", form_views.form_detail, name="form_detail"),
    path("forms/<int:form_id>/edit/", form_views.form_edit, name="form_edit"),
    path("attribution/", views_attribution.attribution, name="attribution"),
    path("attribution/costs/", views_attribution.cost_set, name="campaign_cost_set"),
    path("attribution/rebuild/", views_attribution.rebuild, name="attribution_rebuild"),
    # Open to visitors (tenants.modules.register_open_path in module.py).
    path("f/<uuid:public_id>/", public.form_page, name="form_page"),
    path("f/<uuid:public_id>/embed.json", public.form_embed, name="form_embed"),
    path("f/<uuid:public_id>/submit/", public.form_submit_view, name="form_submit"),
]
