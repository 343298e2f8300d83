"""The call UI in 简体中文 next to one in English: each side reads its own language, bill included."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import wait_growing

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
NAMES = {"Alice", "Liddell", "Bob", "Builder"}


def english_words(page) -> set[str]:
    """English words in the call panel's visible text, besides people's names."""
    text = page.locator("#callkit").inner_text()
    return set(ENGLISH_WORD.findall(text)) - NAMES


def test_a_call_between_a_chinese_and_an_english_browser(open_page):
    alice = open_page("alice", locale="zh-CN")
    bob = open_page("bob")
    expect(alice.get_by_role("link", name="通话记录")).to_be_visible()
    alice.get_by_role("button", name="视频呼叫 Bob Builder").click()
    expect(alice.get_by_text("正在呼叫 Bob Builder…")).to_be_visible()
    expect(alice.get_by_role("button", name="取消")).to_be_visible()

    dialog = bob.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Alice Liddell is calling")
    dialog.get_by_role("button", name="Accept").click()

    expect(alice.get_by_role("button", name="挂断")).to_be_visible()
    wait_growing(alice, "video", "framesDecoded")  # a real call, whatever the language
    wait_growing(bob, "video", "framesDecoded")
    expect(alice.get_by_role("button", name="麦克风静音")).to_be_visible()
    alice.get_by_role("button", name="麦克风静音").click()
    expect(alice.get_by_role("button", name="取消麦克风静音")).to_be_visible()  # set by ui.js, from the JS catalog
    expect(alice.get_by_text(re.compile(r"^你的网络："))).to_be_visible()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_visible()
    assert english_words(alice) == set(), "untranslated text in the Chinese call panel"
    assert "Hang up" in bob.locator("#callkit").inner_text()

    bob.get_by_role("button", name="Hang up").click()
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^视频通话 · \d\d:\d\d$"))
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^Video call · \d\d:\d\d$"))


def test_a_missed_call_and_socket_errors_in_chinese(open_page):
    bob = open_page("bob", locale="zh-CN")
    alice = open_page("alice")
    alice.get_by_role("button", name="Audio call Bob Builder").click()
    expect(bob.get_by_role("alertdialog")).to_contain_text("语音来电")
    alice.get_by_role("button", name="Cancel").click()
    expect(bob.get_by_role("status")).to_have_text("未接来电")
    expect(alice.get_by_role("status")).to_have_text("Canceled")
    # The server's error messages come in the socket's language too.
    reply = bob.evaluate("() => window.callkit.signaling.request({ type: 'call.invite', to_username: 'nobody', media: 'audio' }).catch((e) => e.message)")
    assert reply == "没有这个用户。"
