"""The login page: Django's view, answering 429 while calls/login_throttle.py holds the attempt back."""

from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from .login_throttle import ThrottleAwareAuthenticationForm


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view; a throttled attempt gets 429 and "too many attempts"."""

    form_class = ThrottleAwareAuthenticationForm

    def form_invalid(self, form) -> HttpResponse:
        if form.has_error("__all__", code="throttled"):
            return self.render_to_response(self.get_context_data(form=form, throttled=True), status=429)
        return super().form_invalid(form)
