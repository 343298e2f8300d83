"""Themes in Chromium: the system's dark scheme changes the tokens; a forced choice wins over it,
is remembered, and is on <html> before the body exists (no flash of the other theme)."""

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

# Records, in mutation order, whether data-theme was set on <html> before <body> was inserted.
ORDER_JS = """
window.__themeOrder = "no body yet";
let themed = false;
new MutationObserver((records, observer) => {
  for (const r of records) {
    if (r.type === "attributes" && r.target === document.documentElement) themed = true;
    for (const node of r.addedNodes ?? []) {
      if (node.nodeName === "BODY") {
        window.__themeOrder = themed ? "theme first" : "body first";
        observer.disconnect();
        return;
      }
    }
  }
}).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-theme"] });
"""

COLOURS = """() => ({
  token: getComputedStyle(document.documentElement).getPropertyValue("--ck-color-bg").trim(),
  body: getComputedStyle(document.body).backgroundColor,
  theme: document.documentElement.dataset.theme ?? null,
})"""


def signed_in(browser, server, scheme: str, username: str = "alice"):
    context = browser.new_context(base_url=server.url, color_scheme=scheme)
    context.add_init_script(script=ORDER_JS)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(theme_menu(page)).to_be_visible()
    return context, page


def theme_menu(page):
    """The Theme choice, inside the header's settings menu (opened if it is closed)."""
    settings = page.get_by_role("button", name="Settings")
    expect(settings).to_be_visible()
    if settings.get_attribute("aria-expanded") != "true":
        settings.click()
    return page.get_by_role("combobox", name="Theme")


def test_dark_scheme_and_forced_themes(browser, server, users):
    light_ctx, light = signed_in(browser, server, "light")
    dark_ctx, dark = signed_in(browser, server, "dark")
    try:
        light_colours, dark_colours = light.evaluate(COLOURS), dark.evaluate(COLOURS)
        assert light_colours["theme"] is None and dark_colours["theme"] is None  # following the system
        assert dark_colours["token"] != light_colours["token"]
        assert dark_colours["body"] != light_colours["body"]

        # Forcing light in a dark system wins over the media query, and outlives a reload.
        theme_menu(dark).select_option("light")
        assert dark.evaluate(COLOURS) == {**light_colours, "theme": "light"}
        dark.reload()
        assert dark.evaluate(COLOURS) == {**light_colours, "theme": "light"}
        assert dark.evaluate("() => window.__themeOrder") == "theme first"
        expect(theme_menu(dark)).to_have_value("light")

        # Forcing dark in a light system; "System" hands it back.
        theme_menu(light).select_option("dark")
        assert light.evaluate(COLOURS) == {**dark_colours, "theme": "dark"}
        theme_menu(light).select_option("system")
        assert light.evaluate(COLOURS) == light_colours
        light.reload()
        assert light.evaluate(COLOURS) == light_colours

        # The custom UI example follows the same tokens and the same stored choice.
        theme_menu(light).select_option("dark")
        light.goto("/examples/custom-ui/")
        assert light.evaluate(COLOURS) == {**dark_colours, "theme": "dark"}
    finally:
        light_ctx.close()
        dark_ctx.close()
