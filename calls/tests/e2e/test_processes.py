"""Two server processes on one Redis and one database: a call across them, and the process
holding one side killed mid-call."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from calls import services
from calls.models import Call, HistoryEntry, Line

from .conftest import Server, poll, wait_for_port, wait_growing
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


def test_video_call_across_two_processes_is_billed_once(open_page, two_servers):
    """Caller on one process, callee on the other: media flows, a hang-up reaches both, one bill."""
    a, b = two_servers
    alice, bob = open_page("alice", a), open_page("bob", b)
    connect(alice, bob, "video")
    live = Call.objects.get()
    # Each side is held by a connection of its own process (a channel name starts with its process's prefix).
    assert live.caller_channel.split("!")[0] != live.callee_channel.split("!")[0]
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "video", "bytesReceived")
        wait_growing(page, "audio", "totalAudioEnergy")

    bob.get_by_role("button", name="Hang up").click()  # on process b; alice hears of it through Redis
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"))
    call = Call.objects.get()
    assert (call.state, call.status, call.end_reason, call.ended_by.username) == ("ended", "completed", "hangup", "bob")
    assert call.ended_at >= call.answered_at
    history = sorted(HistoryEntry.objects.filter(call=call).values_list("user__username", "outgoing", "missed"))
    assert history == [("alice", True, False), ("bob", False, False)]
    assert HistoryEntry.objects.count() == 2 and not Line.objects.exists()
    # A sweep (as either process's clock runs one) finds nothing left to end; the bill stays as written.
    assert services.calls_sweep() == []
    assert Call.objects.get().ended_at == call.ended_at and HistoryEntry.objects.count() == 2


def test_call_across_processes_and_the_other_process_dies(open_page, two_servers):
    a, b = two_servers
    alice, bob = open_page("alice", a), open_page("bob", b)
    connect(alice, bob, "video")
    wait_growing(alice, "video", "framesDecoded")
    wait_growing(bob, "video", "framesDecoded")

    killed_at = timezone.now()
    b.kill()  # bob's server dies without closing anything
    # Alice's process notices bob's side has no heartbeat, gives him the grace period, then ends it.
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"), timeout=20000)
    call = Call.objects.get()
    assert (call.status, call.end_reason, call.ended_by.username) == ("completed", "connection_lost", "bob")
    # Billed until bob's process last said it was alive, not until alice's noticed (seconds later).
    assert call.answered_at <= call.ended_at <= killed_at


class PrivateRedis:
    """A redis-server of this test's own on a free port, so restarting it disturbs nobody else."""

    def __init__(self):
        import shutil
        import socket
        import subprocess

        self.binary = shutil.which("redis-server")
        assert self.binary, "redis-server is needed (Debian package redis-server)"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._subprocess = subprocess
        self.proc = None
        self.start()

    def start(self):
        self.proc = self._subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=self._subprocess.DEVNULL, stderr=self._subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, seconds=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_redis():
    redis = PrivateRedis()
    yield redis
    redis.stop()


def test_redis_restarting_mid_call_loses_nothing(open_page, server, private_redis):
    srv = Server(REDIS_URL=private_redis.url)
    try:
        alice, bob = open_page("alice", srv), open_page("bob", srv)
        connect(alice, bob, "video")
        wait_growing(bob, "video", "framesDecoded")

        private_redis.stop()
        # Every socket rides on the channel layer: they drop, and the tabs keep trying.
        for page in (alice, bob):
            poll(page, "() => window.callkit.connectionState !== 'open'", what="the socket to drop")
        wait_growing(bob, "video", "framesDecoded")  # media is peer-to-peer: it goes on
        private_redis.start()
        for page in (alice, bob):
            poll(page, "() => window.callkit.connectionState === 'open'", timeout=20, what="the socket to return")
        poll(alice, "() => window.callkit.currentCall.info.away.length === 0", what="both sides resumed")
        wait_growing(alice, "video", "framesDecoded")
        alice.get_by_role("button", name="Hang up").click()
        for page in (alice, bob):
            expect(page.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"))
        call = Call.objects.get()
        assert (call.status, call.end_reason, call.ended_by.username) == ("completed", "hangup", "alice")
    finally:
        srv.stop()


def test_redis_down_longer_than_the_grace_ends_no_call(open_page, server, private_redis):
    """An outage of the server's own infrastructure is nobody's hang-up: the call outlives it,
    media flows throughout, and the bill is written only at the hang-up."""
    grace = 3
    srv = Server(REDIS_URL=private_redis.url, CALLKIT_GRACE=str(grace))
    try:
        alice, bob = open_page("alice", srv), open_page("bob", srv)
        connect(alice, bob, "video")
        wait_growing(bob, "video", "framesDecoded")

        private_redis.stop()
        for page in (alice, bob):
            poll(page, "() => window.callkit.connectionState !== 'open'", what="the socket to drop")
        call = Call.objects.get()
        outage_ends = timezone.now() + timedelta(seconds=2 * grace + 2)  # twice the grace, and sweeps
        while timezone.now() < outage_ends:  # media is peer-to-peer: it flows through the outage
            wait_growing(bob, "video", "framesDecoded")
            wait_growing(alice, "audio", "totalAudioEnergy")
        call.refresh_from_db()
        assert (call.state, call.status) == ("active", "")
        assert call.caller_gone_deadline and call.callee_gone_deadline  # both away, both held
        assert not HistoryEntry.objects.exists()

        private_redis.start()
        for page in (alice, bob):
            poll(page, "() => window.callkit.connectionState === 'open'", timeout=20, what="the socket to return")
        poll(alice, "() => window.callkit.currentCall.info.away.length === 0", what="both sides resumed")
        poll(bob, "() => window.callkit.currentCall.info.away.length === 0", what="both sides resumed")
        for page in (alice, bob):
            wait_growing(page, "video", "framesDecoded")
            wait_growing(page, "audio", "totalAudioEnergy")
        call.refresh_from_db()
        assert (call.state, call.caller_gone_deadline, call.callee_gone_deadline) == ("active", None, None)
        assert not HistoryEntry.objects.exists()
        bob.get_by_role("button", name="Hang up").click()
        for page in (alice, bob):
            expect(page.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"))
        call.refresh_from_db()
        assert (call.status, call.end_reason, call.ended_by.username) == ("completed", "hangup", "bob")
        assert call.ended_at - call.answered_at > timedelta(seconds=2 * grace)  # the outage was talk time
        assert HistoryEntry.objects.filter(call=call).count() == 2
    finally:
        srv.stop()
