"""Parsing student JSON as Go does: keys matched case-insensitively, then re-spelled."""

from __future__ import annotations

import pytest

from sandbox.gateway.canonical_json import canonicalise, encode
from sandbox.gateway.errors import GatewayError
from sandbox.gateway.schemas import CONTAINER_CREATE


def test_struct_keys_are_matched_case_insensitively_and_respelled():
    body = canonicalise(
        b'{"image": "x", "hostconfig": {"PRIVILEGED": true, "capadd": "NET_RAW"}}', CONTAINER_CREATE
    )
    assert body == {"Image": "x", "HostConfig": {"Privileged": True, "CapAdd": ["NET_RAW"]}}


def test_map_keys_are_data_and_keep_their_spelling():
    body = canonicalise(b'{"Labels": {"Muelle.X": "1", "muelle.x": "2"}}', CONTAINER_CREATE)
    assert body == {"Labels": {"Muelle.X": "1", "muelle.x": "2"}}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"HostConfig": {"Privileged": false, "privileged": true}}',
        b'{"Image": "a", "Image": "b"}',
        b'{"Labels": {"a": "1", "a": "2"}}',
        '{"HostConfig": {"\u017fecurityOpt": []}}'.encode(),
        '{"HostConfig": {"Memory": 1}, "Labels": {"\u00f1": "x"}}'.encode(),
        b'{"HostConfig": {"Memory": "1g"}}',
        b'{"HostConfig": {"Memory": 1.5}}',
        b'{"HostConfig": {"Privileged": 1}}',
        b'{"Image": NaN}',
        b"\xff\xfe",
        # Go reads what Python would not: invalid UTF-8 and lone surrogates become U+FFFD.
        b'{"Image": "a\xffb"}',
        b'{"Image": "a\\ud800b"}',
        b'{"Labels": {"\\udc00": "x"}}',
        b'{"HostConfig": {"Memory": 1e400}}',
        b'{"Cmd": [1e999]}',
        b'\xef\xbb\xbf{"Image": "x"}',  # a BOM: Go refuses it too
        b'{"Image": "x"} {"Image": "y"}',  # Go's Decoder would read the first and stop
        b'{"Image": "x"}]',
        b"[" * 100_000,
    ],
)
def test_ambiguous_or_mistyped_bodies_are_refused(raw):
    with pytest.raises(GatewayError) as error:
        canonicalise(raw, CONTAINER_CREATE)
    assert error.value.status == 400


def test_unknown_fields_are_dropped_and_nulls_are_absent():
    body = canonicalise(
        b'{"Image": "x", "Bogus": 1, "HostConfig": {"Binds": null}}', CONTAINER_CREATE
    )
    assert body == {"Image": "x", "HostConfig": {}}


def test_the_gateway_encodes_its_own_json():
    assert encode({"Cmd": ["é"]}) == b'{"Cmd":["\\u00e9"]}'


def test_a_valid_surrogate_pair_is_one_character():
    body = canonicalise(b'{"Image": "\\ud83d\\udc33"}', CONTAINER_CREATE)
    assert body == {"Image": "\U0001f433"}
    assert encode(body) == b'{"Image":"\\ud83d\\udc33"}'
