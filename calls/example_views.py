"""Example pages: call UIs built on the JS SDK alone, without the default UI."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def custom_ui(request: HttpRequest) -> HttpResponse:
    """A full-screen call UI of its own (static/examples/custom-ui.js) on the SDK's public API."""
    return render(request, "examples/custom_ui.html", {
        "people": selectors.callable_users(user=request.user)[:200],
    })
