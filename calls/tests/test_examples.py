"""The custom UI example page: signed-in only, standalone (no default UI), strict CSP, translated."""

import re

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/examples/custom-ui/"


def test_signed_out_users_are_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_lists_contacts_and_loads_only_the_sdk_example(client, alice, bob):
    client.force_login(alice)
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-call="{bob.pk}" data-media="video"' in html and f'data-call="{alice.pk}"' not in html
    assert "examples/custom-ui.js" in html and "callkit/ui.js" not in html and 'id="callkit"' not in html
    assert "/jsi18n/" in html  # the catalog the example's gettext() uses


def test_it_has_a_strict_csp_and_nothing_inline(client, alice):
    client.force_login(alice)
    response = client.get(URL)
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html and " on" + "click" not in html


def test_it_follows_the_request_language(client, alice):
    client.force_login(alice)
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in html and "jsi18n/?lang=zh-hans" in html
