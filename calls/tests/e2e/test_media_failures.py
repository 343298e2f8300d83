"""Media that fails: no camera, permission denied, a connection that cannot be made."""

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import Server, wait_growing
from .test_calls import connect, place_call

pytestmark = pytest.mark.django_db(transaction=True)


def refuse_media(name: str, video_only: bool) -> str:
    """An init script that makes getUserMedia fail as a browser would (`name` is the DOMException);
    a browser that refuses permission also says so to the Permissions API."""
    denied = "true" if name == "NotAllowedError" else "false"
    return f"""
    (() => {{
      if ({denied}) navigator.permissions.query = async (d) => ({{ name: d.name, state: "denied" }});
      const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (constraints) => {{
        if (!{str(video_only).lower()} || constraints.video) {{
          return Promise.reject(new DOMException("refused by the test", "{name}"));
        }}
        return real(constraints);
      }};
    }})();
    """


def test_no_camera_answers_a_video_call_with_audio(open_page):
    alice = open_page("alice")
    bob = open_page("bob", init_script=refuse_media("NotFoundError", video_only=True))
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    dialog.get_by_role("button", name="Accept").click()
    expect(bob.get_by_role("alert")).to_contain_text("No microphone or camera was found")
    expect(bob.get_by_role("alert")).to_contain_text("audio only")
    expect(alice.get_by_text("Bob Builder turned their camera off")).to_be_visible()
    wait_growing(bob, "video", "framesDecoded")  # Bob still sees Alice
    wait_growing(bob, "audio", "totalAudioEnergy")
    wait_growing(alice, "audio", "totalAudioEnergy")  # and they hear each other


def test_permission_denied_says_so_and_places_no_call(open_page):
    alice = open_page("alice", init_script=refuse_media("NotAllowedError", video_only=False))
    open_page("bob")
    alice.get_by_role("button", name="Video call Bob Builder").click()
    expect(alice.get_by_role("alert")).to_contain_text("Access to the microphone or camera was denied")
    assert Call.objects.count() == 0


@pytest.fixture
def unconnectable_server(server):
    # Relay-only with no TURN server: no ICE candidate can ever pair.
    srv = Server(CALLKIT_ICE_TRANSPORT_POLICY="relay", CALLKIT_CONNECT_TIMEOUT="3")
    yield srv
    srv.stop()


def test_call_that_cannot_connect_ends_as_failed(open_page, unconnectable_server):
    alice = open_page("alice", unconnectable_server)
    bob = open_page("bob", unconnectable_server)
    connect(alice, bob, "video")
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text("Call failed", timeout=10000)
    call = Call.objects.get()
    assert (call.status, call.end_reason) == ("failed", "failed")
