"""Pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone the signed-in user can call."""
    users = selectors.callable_users(user=request.user)
    return render(request, "calls/home.html", {"users": users})
