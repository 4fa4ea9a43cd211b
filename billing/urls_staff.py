from django.urls import path

from billing import views_staff

urlpatterns = [
    path("revenue/", views_staff.revenue_dashboard, name="staff_revenue"),
]
