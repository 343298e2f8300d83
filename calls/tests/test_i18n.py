"""Both languages, complete: catalogues cover every marked string, pages and errors speak the reader's language."""

import gettext as gnu_gettext
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from callkit_web.asgi import application
from calls import embed_tokens
from calls.tests.conftest import HOST_HEADER, ORIGIN, session_cookie
from calls.tests.test_history import finish

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
DOMAINS = ("django", "djangojs")
# Words that are the same in both languages: the product's name, file formats, the other
# language's own name in the switcher, and what users typed (names, usernames).
SAME_IN_BOTH = {"CallKit", "Web", "CSV", "English"}
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def _catalogue(domain: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / f"{domain}.po"))


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_marked_string_is_translated(domain, tmp_path):
    """Extract the strings afresh from the source: each one has a Chinese translation."""
    if shutil.which("xgettext") is None:
        if os.environ.get("CI"):
            pytest.fail("gettext (xgettext) must be installed in CI")
        pytest.skip("gettext is not installed")
    for name in ("manage.py", "callkit_web", "calls", "templates", "static"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(
            source, tmp_path / name, **({"ignore": shutil.ignore_patterns("vendor", "__pycache__", "tests")}
                                        if source.is_dir() else {}))
    (tmp_path / "locale").mkdir()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "callkit_web.settings_test"}
    subprocess.run([sys.executable, "manage.py", "makemessages", "-d", domain, "-l", "zh_Hans", "--no-location"],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    fresh = polib.pofile(str(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"))
    committed = {entry.msgid: entry for entry in _catalogue(domain)}
    assert len(fresh) > 20
    untranslated = [entry.msgid for entry in fresh
                    if entry.msgid not in committed
                    or not committed[entry.msgid].translated()
                    or "fuzzy" in committed[entry.msgid].flags]
    assert untranslated == [], f"add translations to locale/zh_Hans/LC_MESSAGES/{domain}.po"


@pytest.mark.parametrize("domain", DOMAINS)
def test_compiled_catalogues_match_their_sources(domain):
    """The .mo files Django reads say what the .po files say (run `make messages` after editing)."""
    with open(LOCALE / f"{domain}.mo", "rb") as handle:
        compiled = gnu_gettext.GNUTranslations(handle)
    for entry in _catalogue(domain):
        if entry.msgid_plural:
            assert compiled.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr_plural[0]
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr, entry.msgid


class VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes and accessible names, not scripts or markup."""

    SPOKEN = ("aria-label", "title", "placeholder", "alt")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.parts.extend(value for name, value in attrs if name in self.SPOKEN and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


@pytest.fixture
def pages(client, alice, bob, carol):
    """Every page a signed-in user can open, with history of each outcome to show."""
    for how in ("completed", "rejected", "canceled", "timeout", "failed"):
        finish(alice, bob, how)
        finish(bob, alice, how)
    client.force_login(alice)
    token = embed_tokens.mint(alice, 60).token
    shell = [(url, "通话记录", "History") for url in (
        "/", "/search/", "/search/?q=bo", "/search/?q=nobody", "/history/", "/history/?filter=missed",
        "/history/?filter=outgoing&media=audio", f"/history/with/{bob.pk}/", "/history/?q=zzz")]
    return shell + [("/examples/custom-ui/", "联系人", "Contacts"),
                    (f"/embed/?token={token}", "呼叫他人", "Call someone"),
                    ("/embed/?token=expired-or-forged", "通话窗口", "call window")]


def _users_words(*users) -> set[str]:
    """What users typed: their names, usernames, and the initials of their avatars."""
    from calls.templatetags.people import initials
    return {word for user in users for word in ENGLISH_WORD.findall(f"{user.name} {user.username} {initials(user.name)}")}


@pytest.mark.django_db(transaction=True)
def test_every_page_reads_in_chinese(client, pages, alice, bob, carol):
    allowed = SAME_IN_BOTH | _users_words(alice, bob, carol) | {"nobody", "bo", "zzz"}  # typed queries
    for url, marker, _ in pages:
        text = visible_text(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode())
        assert marker in text, url
        english = sorted(set(ENGLISH_WORD.findall(text)) - allowed)
        assert english == [], f"{url}: untranslated {english}"


@pytest.mark.django_db(transaction=True)
def test_every_page_reads_in_english(client, pages):
    for url, _, marker in pages:
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
        text = visible_text(html).replace("简体中文", "")
        assert marker in text, url
        assert not CJK.search(text), f"{url}: {CJK.findall(text)[:5]}"
        assert re.search(r'<html lang="en"', html), url


@pytest.mark.django_db
def test_login_page_reads_in_both_languages(client):
    zh = visible_text(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode())
    en = visible_text(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "用户名" in zh and "密码" in zh and set(ENGLISH_WORD.findall(zh)) <= SAME_IN_BOTH
    assert "Username" in en and "Log in" in en and not CJK.search(en.replace("简体中文", ""))


@pytest.mark.django_db
def test_the_switcher_overrides_the_browser(client, alice):
    client.force_login(alice)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/history/"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/history/"
    page = client.get("/history/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in page and "通话记录" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "History" in client.get("/history/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


@pytest.mark.django_db
def test_the_javascript_catalogue_follows_the_language(client, alice):
    client.force_login(alice)
    zh = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode("utf-8")
    en = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode("utf-8")
    assert "\\u672a\\u63a5\\u6765\\u7535" in zh or "未接来电" in zh  # "Missed call"
    assert "未接来电" not in en and "\\u672a\\u63a5" not in en


def test_bill_texts_and_history_words_are_translated(alice, bob, db):
    from django.utils import translation

    from calls.selectors import bill_text
    call = finish(alice, bob, "timeout")
    with translation.override("zh-hans"):
        assert bill_text(call, viewer_id=bob.pk) == "未接来电"
        assert bill_text(call, viewer_id=alice.pk) == "无人接听"
    with translation.override("en"):
        assert bill_text(call, viewer_id=bob.pk) == "Missed call"


async def _socket(user, language: str, query: str = "") -> WebsocketCommunicator:
    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [HOST_HEADER, (b"origin", ORIGIN.encode()), (b"cookie", cookie.encode()),
               (b"accept-language", language.encode())]
    comm = WebsocketCommunicator(application, f"/ws/calls/{query}", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    assert (await comm.receive_json_from(timeout=3))["type"] == "hello"
    return comm


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("language", "query", "expected"), [
    ("zh-CN,zh;q=0.9", "", "消息不是有效的 JSON。"),
    ("en-GB", "", "The message is not valid JSON."),
    ("en-GB", "?lang=zh-hans", "消息不是有效的 JSON。"),
    ("fr-FR", "", "The message is not valid JSON."),
])
async def test_socket_errors_speak_the_connections_language(alice, language, query, expected):
    comm = await _socket(alice, language, query)
    try:
        await comm.send_to(text_data="{nope")
        reply = await comm.receive_json_from(timeout=3)
        assert reply["code"] == "bad_json" and reply["message"] == expected
        await comm.send_json_to({"type": "call.invite", "to": alice.pk, "media": "audio"})
        reply = await comm.receive_json_from(timeout=3)
        assert reply["code"] == "self_call"
        assert (reply["message"] == "不能呼叫自己。") == ("消息" in expected)
    finally:
        await comm.disconnect()
