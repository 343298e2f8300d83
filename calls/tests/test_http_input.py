"""HTTP query strings and bodies: anything a client sends gets a page or a clear 400, never a 500."""

import csv
import io
import json
import subprocess
import sys

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from calls.models import HistoryEntry, User

from .test_history import finish

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = "9" * 40


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.parametrize("url", [
    "/search/?q=a%00b",
    "/history/?q=a%00b",
    "/history/with/{bob}/?q=%00",
    "/history/?cursor=a%00",
    f"/history/?cursor={HUGE}.1",
    f"/history/?cursor=1.{HUGE}",
    "/history/?cursor=-99999999999999999.1",
    f"/history/new/?newer_than={HUGE}",
    "/history/new/?newer_than=-1",
    f"/history/new/?newer_than=1&contact={HUGE}",
    "/history/new/?contact=%00",
])
def test_bad_query_strings_are_a_clear_400(alice_client, bob, url):
    response = alice_client.get(url.format(bob=bob.pk))
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()


def test_the_400_page_says_what_was_wrong(alice_client):
    page = alice_client.get("/search/?q=%00").content.decode()
    assert "Null characters are not allowed" in page


def test_an_unknown_filter_still_reads_as_no_filter(alice_client):
    assert alice_client.get("/history/?filter=nope&media=hologram").status_code == 200


def test_a_huge_contact_id_is_not_found(alice_client):
    assert alice_client.get(f"/history/with/{HUGE}/").status_code == 404


def test_the_embed_api_refuses_a_nul_username(client, alice, settings):
    settings.CALLKIT_API_KEYS = ["k" * 32]
    response = client.post("/api/embed-tokens/", data=json.dumps({"username": "ali\x00ce"}),
                           content_type="application/json", HTTP_AUTHORIZATION="Bearer " + "k" * 32)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_username"


PATHS = ["/search/", "/history/", "/history/new/", "/history/badge/", "/history/with/{bob}/"]
PARAMS = ["q", "cursor", "filter", "media", "newer_than", "contact", "lang"]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS),
       params=st.dictionaries(st.sampled_from(PARAMS),
                              st.one_of(st.text(max_size=40), st.integers().map(str),
                                        st.text(alphabet="\x00a.-9", max_size=12),
                                        st.from_regex(r"-?[0-9]{1,40}\.-?[0-9]{1,40}", fullmatch=True)),
                              max_size=4))
def test_any_query_string_gets_a_page_or_a_400(alice, bob, path, params):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get(path.format(bob=bob.pk), params)
    assert response.status_code in (200, 400), (path, params, response.status_code)


def test_csv_export_guards_the_username_column_too(client, make_user, alice):
    mallory = make_user("=cmd|calc", "Mallory")
    finish(mallory, alice, "canceled")
    client.force_login(alice)
    body = b"".join(client.get("/history/export.csv").streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["contact_username"] == "'=cmd|calc"


def test_the_calls_with_an_inactive_stranger_are_not_a_page(alice_client, make_user, alice, bob):
    gone = make_user("gone", "Secret Name", is_active=False)
    response = alice_client.get(f"/history/with/{gone.pk}/")
    assert response.status_code == 404 and "Secret Name" not in response.content.decode()
    # Someone you did talk to stays listed after they are deactivated.
    finish(bob, alice, "canceled")
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert alice_client.get(f"/history/with/{bob.pk}/").status_code == 200
    assert alice_client.get(f"/history/with/{alice.pk}/").status_code == 404


def test_reading_the_history_changes_nothing_until_it_is_posted_as_seen(alice_client, alice, bob):
    finish(bob, alice, "canceled")
    for url in ("/history/", "/history/?filter=missed", f"/history/with/{bob.pk}/", "/history/new/?newer_than=0"):
        assert alice_client.get(url).status_code == 200
    alice.refresh_from_db()
    assert alice.history_seen_at is None
    assert alice_client.get("/history/seen/").status_code == 405
    response = alice_client.post("/history/seen/")
    assert response.status_code == 200 and 'data-count="0"' in response.content.decode()
    alice.refresh_from_db()
    assert alice.history_seen_at is not None and alice.history_seen_at <= timezone.now()
    assert HistoryEntry.objects.filter(user=alice, missed=True).count() == 1


def test_marking_seen_needs_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/history/seen/").status_code == 403


def test_static_html_carries_the_pages_security_headers(client):
    response = client.get("/static/examples/host.html")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in client.get("/static/callkit/callkit.css").headers


def test_the_language_cookie_is_secure_when_the_others_are():
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='callkit_web.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.LANGUAGE_COOKIE_SECURE, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)")
    env = {"DJANGO_SECRET_KEY": "x" * 50, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]
    env["DJANGO_SECURE_COOKIES"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]

