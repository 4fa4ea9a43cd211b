"""The customer portal on a workspace host (ADR 0038): customers, not members. Served outside
the membership middleware (``ServiceConfig.customer_urls``); every view answers for the portal
realm (tests/isolation/test_portal_matrix.py), and only while the plan includes service
(ADR 0078)."""

from django.urls import path

from crm_modules.service import views_portal as views
from crm_modules.service.plan import customer_facing

app_name = "portal"
urlpatterns = [
    path("", customer_facing(views.home), name="home"),
    path("sign-in/", customer_facing(views.sign_in), name="sign_in"),
    path("sign-in/<str:token>/", customer_facing(views.redeem), name="redeem"),
    path("sign-out/", customer_facing(views.sign_out), name="sign_out"),
    path("tickets/new/", customer_facing(views.ticket_new), name="ticket_new"),
    path("tickets/<int:ticket_id>/", customer_facing(views.ticket), name="ticket"),
    path(
        "tickets/<int:ticket_id>/reply/",
        customer_facing(views.ticket_reply),
        name="ticket_reply",
    ),
    path("me/", customer_facing(views.profile), name="profile"),
    path("rate/<str:token>/", customer_facing(views.rate), name="csat_rate"),
    path("articles/", customer_facing(views.articles), name="articles"),
    path("articles/suggest/", customer_facing(views.article_suggest), name="article_suggest"),
    path("articles/<int:article_id>/", customer_facing(views.article), name="article"),
]
