"""The login throttle: every way in, one normalised username, three limits, state that is never evicted."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import authenticate
from django.db import connections
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)
THROTTLED = b"Too many failed attempts"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    settings.LOGIN_THROTTLE_ADDRESS_LIMIT = 6
    settings.LOGIN_THROTTLE_USER_LIMIT = 8
    return settings


def login(username: str, password: str, address: str = "10.0.0.1", path: str = "/accounts/login/"):
    """One attempt from `address`, in a fresh browser (no cookies carried between attempts)."""
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def fail(username: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        response = login(username, "wrong", address)
        assert response.status_code == 200 and THROTTLED not in response.content


def test_the_admin_login_is_throttled_too(alice):
    alice.is_staff = True
    alice.save()
    for _ in range(3):
        response = login("alice", "wrong", path="/admin/login/")
        assert response.status_code == 200 and THROTTLED not in response.content
    response = login("alice", "pw", path="/admin/login/")
    assert response.status_code == 200 and THROTTLED in response.content  # shown, not signed in
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_login_page_and_the_admin_share_one_counter(alice):
    alice.is_staff = True
    alice.save()
    fail("alice", 3)
    response = login("alice", "pw", path="/admin/login/")
    assert THROTTLED in response.content and "_auth_user_id" not in response.wsgi_request.session


def test_any_call_to_authenticate_is_throttled(alice, rf):
    fail("alice", 3)
    request = rf.post("/", REMOTE_ADDR="10.0.0.1")
    assert authenticate(request, username="alice", password="pw") is None
    assert authenticate(rf.post("/", REMOTE_ADDR="10.0.0.2"), username="alice", password="pw") == alice


def test_a_full_width_spelling_shares_the_counter(alice):
    fail("ＡＬＩＣＥ", 3, address="198.51.100.9")  # NFKC and case folding make it "alice"
    assert login("alice", "pw", address="198.51.100.9").status_code == 429
    for i in range(5):  # 8 in all: "alice" reaches her limit across addresses
        fail("alice", 1, address=f"203.0.113.{i}")
    response = login("ａｌｉｃｅ", "pw", address="198.51.100.7")  # Django would sign her in
    assert response.status_code == 429 and THROTTLED in response.content
    assert "_auth_user_id" not in response.wsgi_request.session


def test_failures_at_one_address_do_not_lock_the_owner_out_at_another(alice):
    fail("alice", 3, address="203.0.113.9")
    assert login("alice", "pw", address="203.0.113.9").status_code == 429  # the guesser waits
    response = login("alice", "pw", address="198.51.100.7")  # the owner, at home
    assert response.status_code == 302 and response.wsgi_request.session["_auth_user_id"] == str(alice.pk)


def test_spraying_usernames_from_one_address_is_throttled_at_the_address_limit(alice):
    for i in range(6):  # each name stays under its own limit; the address does not
        response = login(f"user{i}", "wrong", address="203.0.113.9")
        assert response.status_code == 200 and THROTTLED not in response.content
    assert login("alice", "pw", address="203.0.113.9").status_code == 429
    assert login("alice", "pw", address="198.51.100.7").status_code == 302


def test_a_username_has_a_slower_limit_across_addresses(alice):
    for i in range(7):
        fail("alice", 1, address=f"203.0.113.{i}")
    assert login("alice", "pw", address="198.51.100.7").status_code == 302  # under the limit
    fail("alice", 1, address="203.0.113.99")
    response = login("alice", "pw", address="198.51.100.8")
    assert response.status_code == 429 and THROTTLED in response.content


def test_a_successful_login_clears_its_own_counter(alice):
    fail("alice", 2)
    assert login("alice", "pw").status_code == 302
    fail("alice", 2)  # two more: the earlier two no longer count
    assert login("alice", "pw").status_code == 302


def test_a_lockout_survives_many_fresh_names(alice):
    """Without Redis a cache of 300 entries forgot the lockout after 170 failures under fresh names."""
    fail("alice", 3, address="203.0.113.9")
    for i in range(180):  # each from its own address: no other limit is reached
        login(f"fresh{i}", "wrong", address=f"10.{i // 250}.{i % 250}.1")
    response = login("alice", "pw", address="203.0.113.9")
    assert response.status_code == 429 and "_auth_user_id" not in response.wsgi_request.session


def test_attempts_sent_at_once_get_no_more_password_checks_than_the_limit(alice, monkeypatch):
    """Every attempt is in flight before any has failed: only the limit's worth may reach the password."""
    from calls.models import User

    attempts = 8
    arrived = threading.Barrier(attempts, timeout=1)  # holds each check until all 8 are in, if they get there
    checked = []
    real_check = User.check_password

    def check_password(user, raw):
        checked.append(raw)
        try:
            arrived.wait()
        except threading.BrokenBarrierError:  # fewer than 8 got this far: what should happen
            pass
        return real_check(user, raw)

    def attempt(_) -> int:
        try:
            return login("alice", "wrong").status_code
        finally:
            connections.close_all()  # this thread's own connection

    monkeypatch.setattr(User, "check_password", check_password)
    with ThreadPoolExecutor(attempts) as pool:
        statuses = list(pool.map(attempt, range(attempts)))
    assert len(checked) <= 3 and statuses.count(429) >= attempts - 3, statuses
