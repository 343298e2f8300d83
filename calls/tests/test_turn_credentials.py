"""TURN credentials in coturn's REST form, and how the socket hands them out and refreshes them."""

import base64
import hashlib
import hmac
from datetime import datetime

import pytest
from django.test import override_settings

from calls.turn import ice_config, turn_credential

STUN = {"urls": "stun:stun.example.org:3478"}
TURN = {"CALLKIT_TURN_URLS": ["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp"],
        "CALLKIT_TURN_SECRET": "s3cr3t-for-tests", "CALLKIT_TURN_TTL": 600, "CALLKIT_ICE_SERVERS": [STUN]}


def test_credential_matches_a_known_hmac():
    # Reference computed outside Python:
    #   printf '1700000000:42' | openssl dgst -sha1 -hmac s3cr3t-for-tests -binary | base64
    assert turn_credential("s3cr3t-for-tests", 42, 1_700_000_000) == ("1700000000:42", "V7llVySLKXDPHY+lyuOFd7YOs1E=")


def test_credential_depends_on_secret_user_and_expiry():
    base = turn_credential("a", 1, 100)[1]
    assert len({base, turn_credential("b", 1, 100)[1], turn_credential("a", 2, 100)[1],
                turn_credential("a", 1, 101)[1]}) == 4


@override_settings(CALLKIT_TURN_URLS=[], CALLKIT_TURN_SECRET="", CALLKIT_ICE_SERVERS=[STUN])
def test_without_turn_only_the_static_servers_and_no_expiry():
    assert ice_config(7) == {"ice_servers": [STUN], "expires_at": None}


@override_settings(**TURN)
def test_with_turn_a_credential_for_this_user_valid_for_the_ttl():
    config = ice_config(7, now=1_700_000_000.9)
    stun, turn = config["ice_servers"]
    assert stun == STUN
    assert turn["urls"] == TURN["CALLKIT_TURN_URLS"]
    assert turn["username"] == "1700000600:7"
    expected = hmac.new(b"s3cr3t-for-tests", b"1700000600:7", hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected
    assert datetime.fromisoformat(config["expires_at"]).timestamp() == 1_700_000_600


@pytest.mark.django_db(transaction=True)
async def test_hello_carries_turn_and_ice_refresh_gives_a_later_one(open_tab, alice):
    with override_settings(**{**TURN, "CALLKIT_TURN_TTL": 10}):
        tab = await open_tab(alice)
        config = tab.hello["config"]
        first = config["ice_servers"][-1]
        assert first["username"].endswith(f":{alice.pk}")
        assert config["ice_expires_at"] is not None
        expires = int(first["username"].split(":")[0])
        assert datetime.fromisoformat(config["ice_expires_at"]).timestamp() == expires

        await tab.send(type="ice.refresh", ref="ice1")
        reply = await tab.expect("ice.servers")
        assert reply["ref"] == "ice1"
        assert reply["ice_servers"][0] == STUN
        fresh = reply["ice_servers"][-1]
        assert fresh["username"].endswith(f":{alice.pk}")
        assert int(fresh["username"].split(":")[0]) >= expires
        assert datetime.fromisoformat(reply["expires_at"]).timestamp() == int(fresh["username"].split(":")[0])


@pytest.mark.django_db(transaction=True)
async def test_ice_refresh_without_turn_says_no_expiry(open_tab, alice):
    with override_settings(CALLKIT_TURN_URLS=[], CALLKIT_TURN_SECRET="", CALLKIT_ICE_SERVERS=[]):
        tab = await open_tab(alice)
        assert tab.hello["config"]["ice_expires_at"] is None
        await tab.send(type="ice.refresh")
        assert await tab.recv() == {"type": "ice.servers", "ice_servers": [], "expires_at": None}
        await tab.send(type="ice.refresh", extra=1)
        assert (await tab.expect("error"))["code"] == "bad_message"
