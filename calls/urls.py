"""Page routes of the calls app."""

from django.urls import path

from . import embed_views, example_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("history/", views.history, name="history"),
    path("history/with/<int:contact_id>/", views.history, name="history_contact"),
    path("history/new/", views.history_new_rows, name="history_new"),
    path("history/badge/", views.missed_badge, name="missed_badge"),
    path("history/seen/", views.history_seen, name="history_seen"),
    path("history/export.csv", views.history_export, name="history_export"),
    path("examples/custom-ui/", example_views.custom_ui, name="example_custom_ui"),
    path("embed/", embed_views.embed, name="embed"),
    path("api/embed-tokens/", embed_views.api_embed_tokens, name="api_embed_tokens"),
    path("api/socket-tokens/", embed_views.api_socket_tokens, name="api_socket_tokens"),
]
