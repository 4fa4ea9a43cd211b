from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("return/", views.checkout_return, name="checkout_return"),
]
