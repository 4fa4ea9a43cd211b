"""The customer portal on a workspace host (ADR 0038): customers, not members. Served outside
the membership middleware (``ServiceConfig.customer_urls``); every view answers for the portal
realm (tests/isolation/test_portal_matrix.py)."""

from django.urls import path

from crm_modules.service import views_portal as views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/<str:token>/", views.redeem, name="redeem"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<int:ticket_id>/", views.ticket, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", views.ticket_reply, name="ticket_reply"),
    path("me/", views.profile, name="profile"),
    path("rate/<str:token>/", views.rate, name="csat_rate"),
    path("articles/", views.articles, name="articles"),
    path("articles/suggest/", views.article_suggest, name="article_suggest"),
    path("articles/<int:article_id>/", views.article, name="article"),
]
