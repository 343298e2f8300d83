"""Page routes of the calls app."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("history/", views.history, name="history"),
]
