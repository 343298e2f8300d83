"""Pages: login throttling, security headers, and what needs a signed-in user."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_works(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_login_is_throttled_after_repeated_failures(client, alice, settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and b"didn't match" in response.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw"})
    assert response.status_code == 429 and b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session  # even the right password waits


def test_every_page_has_a_strict_csp(client, alice):
    client.force_login(alice)
    for url in ("/", "/search/", "/history/", "/accounts/login/"):
        csp = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp


def test_pages_have_no_inline_scripts_or_styles(client, alice):
    import re

    client.force_login(alice)
    for url in ("/", "/search/?q=a", "/history/"):
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html), url
        assert "<style" not in html and " style=" not in html and "onclick" not in html, url


def test_signed_out_users_are_sent_to_login(client):
    for url in ("/", "/search/", "/history/", "/history/export.csv", "/history/badge/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_production_settings_are_secure_by_default():
    import subprocess
    import sys

    code = ("import django, os; os.environ.pop('DJANGO_SECURE_COOKIES', None); "
            "from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.DEBUG)")
    env = {"DJANGO_SETTINGS_MODULE": "callkit_web.settings", "DJANGO_SECRET_KEY": "x", "PATH": "/usr/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True", "False"]
    missing_key = subprocess.run([sys.executable, "-c", "from django.conf import settings; settings.DEBUG"],
                                 env={**env, "DJANGO_SECRET_KEY": ""}, capture_output=True, text=True)
    assert missing_key.returncode != 0 and "DJANGO_SECRET_KEY must be set" in missing_key.stderr
