"""The pages on a phone and with the keyboard: nothing overflows, the header folds, history rows
stay on two lines under day headings, and the settings menu works by keyboard and without JavaScript."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from calls.models import Call, HistoryEntry
from calls.tests.test_history import finish, finish_busy

from .conftest import PASSWORD, poll

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"
# Each history row: its height, and on how many lines its text cells sit (tops within 12 px: one line).
ROW_LINES = """() => [...document.querySelectorAll("li.bill")].map((row) => {
  const tops = [...row.querySelectorAll(".row-name, .direction, .media, .outcome, time")]
    .filter((c) => c.getClientRects().length && c.textContent.trim())
    .map((c) => c.getBoundingClientRect().top).sort((a, b) => a - b);
  const lines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > 12).length;
  return {height: row.getBoundingClientRect().height, lines};
})"""
OUTLINE = """() => [...document.querySelectorAll("#history-list > li")].map((li) =>
  li.classList.contains("day") ? "# " + li.textContent.trim() : li.dataset.callId ?? "more")"""


def signed_in(browser, server, username: str | None, **context_options):
    """A new browser context on the login page, or signed in as `username`."""
    context = browser.new_context(base_url=server.url, **{"locale": "en-US", **context_options})
    page = context.new_page()
    page.goto("/accounts/login/")
    if username:
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("form.login button").click()
        expect(page.locator("[data-main-nav]")).to_be_visible()
        if context_options.get("java_script_enabled", True):
            # The call UI settles once its socket is up (its banner, its states): keys pressed
            # before that raced it under load.
            poll(page, "() => window.callkit?.connectionState === 'open'", what="the socket to open")
    return context, page


def _start(call: Call, ago: timedelta) -> None:
    moment = timezone.now() - ago
    Call.objects.filter(pk=call.pk).update(created_at=moment)
    HistoryEntry.objects.filter(call=call).update(created_at=moment)


@pytest.fixture
def history(users):
    """Alice has a call of every outcome, over three days; Carol's own history is empty."""
    alice, bob, carol = users["alice"], users["bob"], users["carol"]

    def make():
        # In a thread of its own: the services announce through async_to_sync, which refuses
        # to run in this thread, where Playwright's event loop lives.
        try:
            for how in ("completed", "rejected", "canceled", "timeout", "failed"):
                finish(alice, bob, how, media="audio")
                finish(bob, alice, how)
            _start(finish(bob, alice, "timeout"), timedelta(days=1))
            _start(finish(alice, bob, "completed"), timedelta(days=3))
            finish_busy(bob, alice, carol)  # carol's call to alice was canceled: only a missed one for alice
            HistoryEntry.objects.filter(user=carol).delete()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(make).result()
    return users


@pytest.mark.parametrize(("locale", "width"), [("en-US", 390), ("zh-CN", 390), ("en-US", 360)])
def test_no_page_overflows_a_phone(browser, server, history, locale, width):
    bob = history["bob"]
    pages = [(None, "/accounts/login/"), ("alice", "/"), ("alice", "/search/?q=a"), ("alice", "/search/?q=zzz"),
             ("alice", "/history/"), ("alice", "/history/?filter=missed"), ("alice", f"/history/with/{bob.pk}/"),
             ("carol", "/history/")]
    for username in (None, "alice", "carol"):
        context, page = signed_in(browser, server, username, viewport={**PHONE, "width": width}, locale=locale)
        try:
            for _, url in (p for p in pages if p[0] == username):
                page.goto(url)
                width, inner = page.evaluate(OVERFLOW)
                assert width <= inner, f"{url} ({locale}) is {width} px wide in a {inner} px screen"
                if username:
                    header = page.locator("header.top").bounding_box()
                    assert header["height"] <= 64 and header["width"] <= inner, url  # one compact line
                    # The header folds to icons that keep their names.
                    for name in ("Home", "Search", "History") if locale == "en-US" else ():
                        expect(page.get_by_role("link", name=re.compile(f"^{name}( \\(\\d+ missed\\))?$"))).to_be_visible()
                for row in page.evaluate(ROW_LINES):
                    assert row["lines"] <= 2 and row["height"] <= 80, f"{url}: a history row is {row}"
            if username == "carol":
                expect(page.get_by_text("No calls here yet." if locale == "en-US" else "暂无通话。")).to_be_visible()
            if username == "alice":  # the settings menu, open, fits too
                page.get_by_role("button", name="Settings" if locale == "en-US" else "设置").click()
                panel = page.locator(".settings-panel").bounding_box()
                assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
                width, inner = page.evaluate(OVERFLOW)
                assert width <= inner
        finally:
            context.close()


def test_history_rows_sit_under_their_day(browser, server, history):
    context, page = signed_in(browser, server, "alice", timezone_id="Asia/Shanghai")
    try:
        page.goto("/history/")  # ui.js has stored the browser's time zone in the `tz` cookie by now
        outline = page.evaluate(OUTLINE)
        headings = [item for item in outline if item.startswith("# ")]
        weekday = timezone.localtime(timezone.now() - timedelta(days=3),
                                     timezone=__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%A")
        assert headings == ["# Today", "# Yesterday", f"# {weekday}"]
        yesterday = Call.objects.get(created_at__lt=timezone.now() - timedelta(hours=20),
                                     created_at__gt=timezone.now() - timedelta(days=2)).pk
        assert outline[outline.index("# Yesterday") + 1] == str(yesterday)
        # Headings are headings; rows keep the contract's words and one call-back control each.
        expect(page.get_by_role("heading", name="Yesterday", exact=True)).to_be_visible()
        missed = page.locator(f'li.bill[data-call-id="{yesterday}"]')
        expect(missed).to_contain_text("Bob Builder")
        expect(missed).to_contain_text("Incoming")
        expect(missed).to_contain_text("Video")
        expect(missed).to_contain_text("Missed call")
        expect(missed.get_by_role("button")).to_have_count(1)
        expect(missed.get_by_role("button", name="Video call Bob Builder")).to_be_visible()
        red = page.evaluate("""(id) => {
          const row = document.querySelector(`li.bill[data-call-id="${id}"] .outcome`);
          return [getComputedStyle(row).color, getComputedStyle(document.documentElement).getPropertyValue("--ck-color-danger")];
        }""", str(yesterday))
        assert red[0] == _rgb(red[1].strip())  # missed calls in the danger colour
    finally:
        context.close()


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def _tab_to(page, selector: str, limit: int = 15) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_settings_menu_with_the_keyboard(browser, server, users):
    context, page = signed_in(browser, server, "alice", color_scheme="light")
    try:
        settings = page.get_by_role("button", name="Settings")
        expect(settings).to_have_attribute("aria-expanded", "false")
        expect(page.get_by_role("combobox", name="Theme")).to_be_hidden()
        page.evaluate("() => document.activeElement?.blur()")
        _tab_to(page, "details.settings > summary")
        page.keyboard.press("Enter")
        expect(settings).to_have_attribute("aria-expanded", "true")
        _tab_to(page, "[data-theme-select]")
        page.keyboard.press("ArrowDown")  # System -> Light
        page.keyboard.press("ArrowDown")  # Light -> Dark
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        page.keyboard.press("Escape")  # closes the menu and gives the focus back to its button
        expect(settings).to_have_attribute("aria-expanded", "false")
        assert page.evaluate("() => document.activeElement.matches('details.settings > summary')")

        page.keyboard.press("Space")
        _tab_to(page, "select[name=language]")
        page.keyboard.press("ArrowDown")  # English -> 简体中文: the page comes back in Chinese
        expect(page.get_by_role("link", name="通话记录")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # the theme choice stayed
    finally:
        context.close()


def test_settings_menu_without_javascript(browser, server, users):
    context, page = signed_in(browser, server, "alice", java_script_enabled=False)
    try:
        page.locator("details.settings > summary").click()
        page.get_by_label("Language").select_option("zh-hans")
        page.get_by_role("button", name="Change").click()
        expect(page.get_by_role("link", name=re.compile("通话记录"))).to_be_visible()
        expect(page.get_by_role("heading", name="你好，Alice Liddell")).to_be_visible()
    finally:
        context.close()


def test_the_header_marks_the_page_shown_after_htmx_navigation(browser, server, users):
    context, page = signed_in(browser, server, "alice")
    try:
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
        nav.get_by_role("link", name="Search").click()
        expect(page.get_by_label("Search users")).to_be_visible()
        expect(nav.get_by_role("link", name="Search")).to_have_attribute("aria-current", "page")
        expect(nav.locator("[aria-current]")).to_have_count(1)
        page.go_back()
        expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    finally:
        context.close()
