"""Which address the per-client limits count (tutorial.client_address): the socket's peer, unless
that peer is a configured trusted proxy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.live_server import ROOT
from tutorial.client_address import resolve


def scope(peer: str, **headers: str) -> dict:
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 50000),
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    resolved = resolve(scope("127.0.0.1", X_Forwarded_For="203.0.113.7", X_Forwarded_Proto="https"))
    assert resolved["client"][0] == "127.0.0.1"
    assert resolved["scheme"] == "http"


def test_a_header_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    resolved = resolve(scope("192.0.2.50", X_Forwarded_For="203.0.113.7"))
    assert resolved["client"][0] == "192.0.2.50"


def test_behind_trusted_proxies_the_rightmost_untrusted_hop_counts(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    # The client wrote 6.6.6.6 itself; the outer proxy saw 203.0.113.7; an inner proxy 10.0.0.2.
    headers = {"X_Forwarded_For": "6.6.6.6, 203.0.113.7, 10.0.0.2", "X_Forwarded_Proto": "https"}
    resolved = resolve(scope("127.0.0.1", **headers))
    assert resolved["client"][0] == "203.0.113.7"
    assert resolved["scheme"] == "https"


def test_garbage_in_the_header_stops_at_the_last_vouched_hop(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    resolved = resolve(scope("127.0.0.1", X_Forwarded_For="no-es-una-ip"))
    assert resolved["client"][0] == "127.0.0.1"
    resolved = resolve(scope("127.0.0.1", X_Forwarded_For="[2001:db8::7]:443"))
    assert resolved["client"][0] == "2001:db8::7"


def test_the_header_name_is_configurable(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    resolved = resolve(scope("127.0.0.1", X_Forwarded_For="6.6.6.6", X_Real_IP="198.51.100.4"))
    assert resolved["client"][0] == "198.51.100.4"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXIES", "10.0.0.0/8,proxy.example"),
        ("CLIENT_MAX_SANDBOXES", "0"),
        ("CLIENT_MAX_TERMINALS", "muchas"),
        ("CLIENT_SESSION_BURST", "-1"),
        ("CLIENT_SESSIONS_PER_MINUTE", "x"),
        ("HTTP_MAX_BODY", "10"),
        ("HTTP_BODY_TIMEOUT", "0"),
        ("TERMINAL_SESSION_CHECK", "nunca"),
    ],
)
def test_a_bad_setting_stops_the_start(name, value):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tutorial.settings", name: value}
    env.update(MUELLE_INSECURE_DEV_KEY="1", DEBUG="0", HTTPS="0")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_an_ipv6_client_counts_by_its_48_and_a_mapped_ipv4_as_itself():
    from tutorial.client_address import limit_key

    # Any address of any /64 of one /48 is the same client: a site routes all of them.
    assert (
        limit_key("2001:db8:1:2::1")
        == limit_key("2001:db8:1:2:ffff:abcd:1234:5")
        == limit_key("2001:db8:1:ffff::9")
        == limit_key("2001:db8:1::1")
        == "2001:db8:1::/48"
    )
    assert limit_key("2001:db8:2:2::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:192.0.2.7") == limit_key("192.0.2.7") == "192.0.2.7"
    assert limit_key("unknown") == "unknown"
    # IPv6 addresses that carry an IPv4 one count as it: 6to4 (a /48 per IPv4), Teredo (the
    # client's), NAT64 (every IPv4 client behind it would otherwise share one /64).
    assert limit_key("2002:c000:0207:1::1") == limit_key("2002:c000:207:ffff::9") == "192.0.2.7"
    assert limit_key("64:ff9b::192.0.2.8") == "192.0.2.8"
    assert limit_key("64:ff9b::198.51.100.9") != limit_key("64:ff9b::192.0.2.8")
    assert limit_key("2001:0:4136:e378:8000:63bf:3fff:fdd2") == "192.0.2.45"
