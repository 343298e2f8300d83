"""Media through a real coturn relay with the server's short-lived credentials; a wrong secret gets no relay."""

import os
import random
import re
import shutil
import socket
import subprocess
import time

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import Server, poll, terminate, wait_for_port, wait_growing
from .test_calls import connect

pytestmark = pytest.mark.django_db(transaction=True)

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
SECRET = "callkit-e2e-turn-secret"
TTL = 12  # seconds: short, so that the SDK's renewal (at 90 % of it) happens within the test

if not os.path.exists(TURNSERVER):
    if os.environ.get("CI") == "true":
        raise RuntimeError("coturn's turnserver is needed in CI (apt-get install coturn)")
    pytestmark = [pytestmark, pytest.mark.skip(reason="coturn's turnserver is not installed (apt-get install coturn)")]

# In-page: the selected ICE candidate pair's local and remote candidate types, e.g. ["relay", "relay"].
SELECTED_PAIR_JS = """async () => {
  const report = await window.callkit.getStats();
  if (!report) return null;
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null;
  report.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId); });
  if (!pair || pair.state !== "succeeded") return null;
  const local = byId.get(pair.localCandidateId), remote = byId.get(pair.remoteCandidateId);
  return [local?.candidateType, remote?.candidateType, local?.relayProtocol ?? null, pair.bytesReceived];
}"""


def free_udp_and_tcp_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (TURN listens on both)."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class Coturn:
    """Debian's coturn on 127.0.0.1, with coturn's REST-API authentication (use-auth-secret)."""

    def __init__(self, workdir):
        self.port = free_udp_and_tcp_port()
        low = random.randrange(50000, 60000, 200)  # relay ports: a block of its own
        self.log_path = workdir / "turnserver.log"
        self.proc = subprocess.Popen(
            [TURNSERVER, "-n", "--listening-ip=127.0.0.1", f"--listening-port={self.port}",
             "--relay-ip=127.0.0.1", "--use-auth-secret", f"--static-auth-secret={SECRET}",
             "--realm=callkit.test", "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
             f"--min-port={low}", f"--max-port={low + 199}", f"--log-file={self.log_path}", "--simple-log", "--verbose",
             f"--pidfile={workdir / 'turnserver.pid'}", f"--db={workdir / 'turndb'}", "--fingerprint"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        self.url = f"turn:127.0.0.1:{self.port}?transport=udp"
        # coturn opens its TCP listener with its UDP one: ready once it accepts connections.
        wait_for_port(self.port, self.proc, seconds=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        terminate(self.proc)


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    turn = Coturn(tmp_path_factory.mktemp("coturn"))
    yield turn
    turn.stop()


@pytest.fixture
def turn_server(server, coturn):
    """A daphne that hands out TURN credentials and lets media go only through the relay."""
    srv = Server(CALLKIT_TURN_URLS=coturn.url, CALLKIT_TURN_SECRET=SECRET, CALLKIT_TURN_TTL=str(TTL),
                 CALLKIT_ICE_TRANSPORT_POLICY="relay")
    yield srv
    srv.stop()


@pytest.fixture
def wrong_secret_server(server, coturn):
    srv = Server(CALLKIT_TURN_URLS=coturn.url, CALLKIT_TURN_SECRET="not-" + SECRET,
                 CALLKIT_ICE_TRANSPORT_POLICY="relay", CALLKIT_CONNECT_TIMEOUT="3")
    yield srv
    srv.stop()


def turn_username(page) -> str:
    """The TURN username the page's SDK holds now ("<expiry>:<user id>")."""
    return page.evaluate("() => window.callkit.config.ice_servers.find((s) => s.username).username")


def test_video_call_through_the_relay_with_renewed_credentials(open_page, users, turn_server, coturn):
    alice, bob = open_page("alice", turn_server), open_page("bob", turn_server)
    hello_name = turn_username(alice)
    assert hello_name.endswith(f":{users['alice'].pk}")
    hello_expiry = int(hello_name.split(":")[0])
    # Credentials carry whole seconds: let the clock pass the hello's second, so a fresh one differs.
    poll(alice, "(t) => Date.now() / 1000 > t", hello_expiry - TTL + 1, what="the next second")

    connect(alice, bob, "video")
    # Each side fetched a credential of its own for this call.
    call_names = {page: turn_username(page) for page in (alice, bob)}
    assert int(call_names[alice].split(":")[0]) > hello_expiry
    assert call_names[bob].endswith(f":{users['bob'].pk}")

    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "video", "bytesReceived")
        wait_growing(page, "audio", "totalAudioEnergy")
        pair = poll(page, SELECTED_PAIR_JS, what="a selected candidate pair")
        assert pair[:3] == ["relay", "relay", "udp"], pair
    # coturn saw both users' own credentials allocate relays.
    log = coturn.log()
    for page, name in call_names.items():
        assert f"user <{name}>: incoming packet ALLOCATE processed, success" in log, f"no allocation for {name}"

    # Renewal: with a tenth of the lifetime left, the SDK fetches a new credential (before the old
    # one expires) and hands it to the live connection; an ICE restart then allocates with it.
    expiry = int(call_names[alice].split(":")[0])
    renewed = poll(alice, """(old) => {
        const name = window.callkit.config.ice_servers.find((s) => s.username).username;
        return Number(name.split(":")[0]) > old ? [name, Date.now() / 1000] : null;
    }""", expiry, timeout=TTL + 5, what="the credential to be renewed")
    assert renewed[1] < expiry, "renewed only after the old credential had expired"
    in_use = alice.evaluate("() => window.callkit._peer.pc.getConfiguration().iceServers.find((s) => s.username).username")
    assert in_use == renewed[0]
    alice.evaluate("() => window.callkit.restartIce()")
    deadline = time.monotonic() + 15
    while f"user <{renewed[0]}>: incoming packet ALLOCATE processed, success" not in coturn.log():
        assert time.monotonic() < deadline, "the renewed credential never allocated a relay"
        alice.wait_for_timeout(100)  # between reads of coturn's log
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        pair = poll(page, SELECTED_PAIR_JS, what="a selected candidate pair after the restart")
        assert pair[:2] == ["relay", "relay"], pair

    alice.get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"))
    call = Call.objects.get()
    assert (call.status, call.end_reason) == ("completed", "hangup")


def test_wrong_turn_secret_gets_no_relay_and_the_call_fails(open_page, wrong_secret_server, coturn):
    alice, bob = open_page("alice", wrong_secret_server), open_page("bob", wrong_secret_server)
    connect(alice, bob, "video")
    names = [turn_username(page) for page in (alice, bob)]  # fetched for this call
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text("Call failed", timeout=10000)
    call = Call.objects.get()
    assert (call.status, call.end_reason) == ("failed", "failed")
    # coturn refused each side's credential (signed with the wrong secret) and relayed nothing for it.
    log = coturn.log()
    for name in names:
        assert re.search(rf"user <{re.escape(name)}>: incoming packet message processed, error 401", log), name
        assert f"user <{name}>: incoming packet ALLOCATE processed, success" not in log
