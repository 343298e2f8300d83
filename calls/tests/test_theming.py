"""Theme tokens: every colour of the stylesheets is a token; dark and light define the same ones."""

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static"
TOKENS = STATIC / "callkit" / "callkit.css"
PAGE_TOKENS = STATIC / "css" / "app.css"  # the few tokens only the site's pages use
USERS = [TOKENS, STATIC / "css" / "app.css", STATIC / "examples" / "custom-ui.css"]
# A colour written out: #abc, rgb()/hsl()/…, or a named colour where a value goes.
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(|"
                    r":\s*(?:white|black|red|green|blue|gray|grey|silver|yellow|orange|purple)\b")
TOKEN_BLOCK = re.compile(r":root(?:\[[^\]]*\]|:not\([^)]*\))*\s*\{([^}]*)\}")


def strip_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.S)


def token_blocks(css: str) -> list[dict[str, str]]:
    """Each :root block's custom properties, in order (light, dark by media query, dark forced)."""
    return [dict(re.findall(r"(--ck-[\w-]+)\s*:\s*([^;]+);", body)) for body in TOKEN_BLOCK.findall(css)]


@pytest.mark.parametrize("path", USERS, ids=lambda p: p.name)
def test_no_colour_outside_the_token_blocks(path):
    css = TOKEN_BLOCK.sub("", strip_comments(path.read_text()))
    assert not COLOUR.findall(css), f"{path.name}: colours outside the tokens"


def test_the_check_catches_a_colour():
    assert COLOUR.search(".x { color: #fff; }") and COLOUR.search(".x { background: rgb(0 0 0); }")
    assert COLOUR.search(".x { color: white; }") and not COLOUR.search(".x { color: var(--ck-color-fg); }")


@pytest.mark.parametrize("path", USERS, ids=lambda p: p.name)
def test_every_token_used_is_defined(path):
    light = token_blocks(strip_comments(TOKENS.read_text()))[0]
    if path == PAGE_TOKENS:
        light = {**light, **token_blocks(strip_comments(PAGE_TOKENS.read_text()))[0]}
    used = set(re.findall(r"var\((--ck-[\w-]+)", path.read_text()))
    assert used <= light.keys(), used - light.keys()


def test_dark_overrides_only_known_tokens_the_same_way_twice():
    light, dark_system, dark_forced = token_blocks(strip_comments(TOKENS.read_text()))
    assert dark_system == dark_forced  # the media-query copy and the forced copy must not drift
    assert dark_system.keys() <= light.keys()
    assert {"--ck-color-bg", "--ck-color-fg", "--ck-color-accent", "--ck-color-danger"} <= dark_system.keys()
    assert all(dark_system[k] != light[k] for k in ("--ck-color-bg", "--ck-color-fg"))


def test_the_pages_own_tokens_have_a_dark_twin_and_do_not_shadow_the_kits():
    light, dark_system, dark_forced = token_blocks(strip_comments(PAGE_TOKENS.read_text()))
    kit = token_blocks(strip_comments(TOKENS.read_text()))[0]
    assert dark_system == dark_forced and dark_system.keys() == light.keys()
    assert not light.keys() & kit.keys()  # a host theming callkit.css's tokens is not overridden here
    assert all(dark_system[k] != light[k] for k in ("--ck-color-canvas", "--ck-avatar-0"))


@pytest.mark.django_db
def test_the_theme_script_runs_before_the_page_is_drawn(client):
    html = client.get("/accounts/login/").content.decode()
    head = html.split("<body", 1)[0]
    tag = re.search(r"<script[^>]*js/theme\.js[^>]*>", head)
    assert tag and not re.search(r"\b(defer|async|type=\"module\")", tag.group(0))
    assert head.index("js/theme.js") < head.index("<link rel=\"stylesheet\"")
    assert "data-theme-select" in html
