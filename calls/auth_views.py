"""Login with throttling: a few failed attempts per username and per address, then a pause."""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse


def _keys(request: HttpRequest) -> list[str]:
    username = request.POST.get("username", "").strip().lower()[:150]
    address = request.META.get("REMOTE_ADDR", "")
    return [
        "login-fail:user:" + hashlib.sha256(username.encode()).hexdigest(),
        "login-fail:addr:" + hashlib.sha256(address.encode()).hexdigest(),
    ]


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view, refusing (429) after LOGIN_THROTTLE_LIMIT failures in the window."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        keys = _keys(request)
        if any((cache.get(key) or 0) >= settings.LOGIN_THROTTLE_LIMIT for key in keys):
            form = self.get_form()
            form.errors.clear()
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:  # the form came back: the password was wrong
            for key in keys:
                cache.add(key, 0, timeout=settings.LOGIN_THROTTLE_WINDOW)
                cache.incr(key)
        else:
            cache.delete(keys[0])
        return response
