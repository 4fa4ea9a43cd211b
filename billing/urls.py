from django.urls import path

from billing import views, views_changes

app_name = "billing"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("return/", views.checkout_return, name="checkout_return"),
    path("seats/", views_changes.change_seats, name="change_seats"),
    path("plan/", views_changes.change_plan, name="change_plan"),
    path("plan/withdraw/", views_changes.withdraw_plan_change, name="withdraw_plan_change"),
    path("cancel/", views_changes.cancel, name="cancel"),
    path("resume/", views_changes.resume, name="resume"),
    path("portal/", views.portal, name="portal"),
]
