"""Real calls between two Chromium pages through the real server, media proven with getStats()."""

import pytest
from playwright.sync_api import expect

from .conftest import growth, wait_growing, wait_still

pytestmark = pytest.mark.django_db(transaction=True)


def place_call(caller, callee, callee_name: str, caller_name: str, media: str):
    button = "Video call" if media == "video" else "Audio call"
    caller.get_by_role("button", name=f"{button} {callee_name}").click()
    expect(caller.get_by_role("button", name="Cancel")).to_be_visible()
    dialog = callee.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(caller_name)
    expect(dialog).to_contain_text(f"Incoming {media} call")
    return dialog


def connect(alice, bob, media: str):
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", media)
    dialog.get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Hang up")).to_be_visible()
        expect(page.get_by_role("timer")).to_have_text(r"0\d:\d\d" if False else __import__("re").compile(r"^\d\d:\d\d$"))


def test_video_call(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "video", "bytesReceived")
        wait_growing(page, "audio", "totalAudioEnergy")

    # Mute on Alice's side: Bob sees it, and her audio energy stops reaching him.
    alice.get_by_role("button", name="Mute microphone").click()
    expect(alice.get_by_role("button", name="Unmute microphone")).to_be_visible()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_visible()
    wait_still(bob, "audio", "totalAudioEnergy")
    assert growth(bob, "audio", "totalAudioEnergy", 1200) == 0
    wait_growing(alice, "audio", "totalAudioEnergy")  # Bob's audio still reaches Alice
    alice.get_by_role("button", name="Unmute microphone").click()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_hidden()
    wait_growing(bob, "audio", "totalAudioEnergy")

    # Camera off on Bob's side: Alice sees it.
    bob.get_by_role("button", name="Turn camera off").click()
    expect(bob.get_by_role("button", name="Turn camera on")).to_be_visible()
    expect(alice.get_by_text("Bob Builder turned their camera off")).to_be_visible()
    bob.get_by_role("button", name="Turn camera on").click()
    expect(alice.get_by_text("Bob Builder turned their camera off")).to_be_hidden()

    # Video -> audio: at once for both; no more video frames, audio goes on.
    alice.get_by_role("button", name="Switch to audio").click()
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Switch to video")).to_be_visible()
    wait_still(bob, "video", "framesDecoded")
    wait_growing(bob, "audio", "totalAudioEnergy")

    bob.get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(__import__("re").compile(r"^Audio call · \d\d:\d\d$"))
