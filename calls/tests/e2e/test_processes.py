"""Two server processes on one Redis and one database: a call across them, and the process
holding one side killed mid-call."""

import os
import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import Server, wait_growing
from .test_calls import connect

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="processes share calls only through Redis"),
]


@pytest.fixture
def two_servers(server):
    a = Server(CALLKIT_GRACE="3", CALLKIT_SWEEP_INTERVAL="1")
    b = Server(CALLKIT_GRACE="3", CALLKIT_SWEEP_INTERVAL="1")
    yield a, b
    for srv in (a, b):
        if srv.proc.poll() is None:
            srv.stop()
        else:
            srv.log.close()


def test_call_across_processes_and_the_other_process_dies(open_page, two_servers):
    a, b = two_servers
    alice, bob = open_page("alice", a), open_page("bob", b)
    connect(alice, bob, "video")
    wait_growing(alice, "video", "framesDecoded")
    wait_growing(bob, "video", "framesDecoded")

    b.kill()  # bob's server dies without closing anything
    # Alice's process notices bob's side has no heartbeat, gives him the grace period, then ends it.
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"), timeout=20000)
    call = Call.objects.get()
    assert (call.status, call.end_reason, call.ended_by.username) == ("completed", "connection_lost", "bob")
