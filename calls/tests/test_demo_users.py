"""The demo users and their demo history (make run, make screenshots)."""

from io import StringIO

import pytest
from django.core.management import call_command

from calls.models import Call, HistoryEntry, User
from calls.selectors import bill_text

pytestmark = pytest.mark.django_db


def test_demo_users_can_sign_in():
    call_command("demo_users", stdout=StringIO())
    for name in ("alice", "bob", "carol"):
        assert User.objects.get(username=name).check_password("callkit-demo")
    assert not Call.objects.exists()


def test_the_demo_history_has_every_outcome_once_and_is_added_once():
    call_command("demo_users", "--history", stdout=StringIO())
    call_command("demo_users", "--history", stdout=StringIO())
    calls = Call.objects.all()
    assert {c.status for c in calls} == {"completed", "canceled", "rejected", "timeout", "busy", "failed"}
    assert calls.count() == 7 and HistoryEntry.objects.count() == 14
    alice = User.objects.get(username="alice")
    texts = {bill_text(c, viewer_id=alice.pk) for c in calls}
    assert "Video call · 12:34" in texts and "Missed call" in texts
