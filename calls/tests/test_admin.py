"""The Django admin shows users and bills; bills cannot be added, changed or deleted there."""

import pytest

from calls import services
from calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(make_user):
    return make_user("admin", "Admin", is_staff=True, is_superuser=True)


def test_bills_are_listed_filtered_searched_and_read_only(client, staff, alice, bob, carol):
    call = services.call_invite(caller=alice, callee_id=bob.pk, media="audio", channel="c")
    services.call_cancel(call_id=call.pk, user=alice)
    other = services.call_invite(caller=carol, callee_id=bob.pk, media="video", channel="c")
    services.call_reject(call_id=other.pk, user=bob)
    client.force_login(staff)
    page = client.get("/admin/calls/call/").content.decode()
    assert str(call.pk) in page and str(other.pk) in page
    page = client.get("/admin/calls/call/?status__exact=canceled").content.decode()
    assert str(call.pk) in page and str(other.pk) not in page
    page = client.get("/admin/calls/call/?media__exact=video").content.decode()
    assert str(other.pk) in page and str(call.pk) not in page
    page = client.get("/admin/calls/call/?q=carol").content.decode()
    assert str(other.pk) in page and str(call.pk) not in page
    assert client.get(f"/admin/calls/call/{call.pk}/change/").status_code == 200  # view only
    assert client.post(f"/admin/calls/call/{call.pk}/change/", {"status": "completed"}).status_code == 403
    assert client.get("/admin/calls/call/add/").status_code == 403
    assert client.post(f"/admin/calls/call/{call.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Call.objects.get(pk=call.pk).status == "canceled"


def test_users_are_searchable(client, staff, alice):
    client.force_login(staff)
    page = client.get("/admin/calls/user/?q=Liddell").content.decode()
    assert "alice" in page
