"""URL routes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from calls.auth_views import ThrottledLoginView
from calls.health import healthz
from calls.i18n import JavaScriptCatalogView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalogView.as_view(), name="javascript-catalog"),
    path("", include("calls.urls")),
]
handler400 = "calls.views.bad_request"
