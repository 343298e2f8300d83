"""Logging out in one tab signs the other tabs of that session out at once; other sessions stay."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import poll

pytestmark = pytest.mark.django_db(transaction=True)


def test_logging_out_sends_the_sessions_other_tabs_to_the_login_page(open_page):
    first = open_page("alice")
    second = open_page.another_tab(first)  # same session
    elsewhere = open_page("alice")  # another browser: another session
    second.get_by_role("button", name="Log out").click()
    expect(second).to_have_url(re.compile(r"/accounts/login/"))
    # The first tab's socket was closed with 4401: it reloads instead of retrying, and lands on login.
    expect(first).to_have_url(re.compile(r"/accounts/login/"), timeout=5000)
    expect(first.get_by_role("heading", name="Log in")).to_be_visible()
    poll(elsewhere, "() => window.callkit?.connectionState === 'open'", what="the other session's socket")
    expect(elsewhere.get_by_role("heading", name="Hello, Alice Liddell")).to_be_visible()
