"""axe-core on every page and call state, light and dark: no serious or critical violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .conftest import poll
from .test_calls import connect, navigate, place_call

AXE = Axe()


def violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now, one line each."""
    results = AXE.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


def check(page: Page, where: str) -> None:
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        found = violations(page)
        assert not found, f"{where}, {theme}:\n" + "\n".join(found)


def test_the_login_page(browser, server):
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        check(page, "login")
    finally:
        context.close()


@pytest.mark.parametrize("link", ["Home", "Search", "History"])
def test_every_signed_in_page(open_page, link):
    alice = open_page("alice")
    navigate(alice, link)
    if link == "Search":
        alice.get_by_label("Search users").fill("b")
        expect(alice.get_by_role("button", name="Video call Bob Builder")).to_be_visible()
    check(alice, link)


def test_every_call_state(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    check(alice, "outgoing video call")
    check(bob, "incoming video call")
    bob.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
    poll(alice, "() => document.getElementById('callkit')?.dataset.state === 'incall'", what="the call")
    check(alice, "video call")
    alice.get_by_role("button", name="Hang up").click()
    expect(alice.get_by_role("status")).to_contain_text("Video call")
    check(alice, "bill")
    alice.get_by_role("button", name="Close").click()
    connect(alice, bob, "audio")
    check(bob, "audio call")


def test_the_check_finds_what_it_must(open_page):
    """The check itself can fail: an icon button without a name and grey-on-grey text are found."""
    alice = open_page("alice")
    alice.evaluate("""() => {
        const b = document.createElement("button");
        b.innerHTML = '<svg class="ck-icon" aria-hidden="true"></svg>';
        const p = document.createElement("p");
        p.textContent = "faint";
        p.style.color = "#777"; p.style.background = "#888";
        document.querySelector("main").append(b, p);
    }""")
    found = "\\n".join(violations(alice))
    assert "button-name" in found and "color-contrast" in found
