"""Every field of the engine's container structs has a rule (nothing passes unchecked)."""

from __future__ import annotations

import pytest

from sandbox.gateway import names, policy
from sandbox.gateway.schemas import CONTAINER_CONFIG_FIELDS, HOST_CONFIG_FIELDS


def test_every_container_field_has_a_policy_rule():
    assert set(policy.CONFIG_RULES) == set(CONTAINER_CONFIG_FIELDS)
    assert set(policy.HOST_RULES) == set(HOST_CONFIG_FIELDS)


def test_capabilities_are_the_allowlist_minus_drops_plus_allowed_adds():
    class Config:
        cap_allowlist = frozenset({"CHOWN", "KILL", "NET_BIND_SERVICE"})

    class Student:
        config = Config()

    assert policy.capabilities(Student(), ["cap_kill"], ["CHOWN"]) == ["KILL", "NET_BIND_SERVICE"]
    assert policy.capabilities(Student(), ["KILL"], ["ALL"]) == ["KILL"]


# What the engine and the kernel were seen to accept (docs/gateway.md, "Fidelity to the engine").
@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("3M", 3 * 2**20),
        ("3m", 3 * 2**20),
        ("0x300000", 3 * 2**20),
        ("010k", 8 * 2**10),
        ("3145728", 3 * 2**20),
        ("0", 0),
        ("3MB", None),
        ("3MiB", None),
        ("1.5m", None),
        ("50%", None),
        ("", None),
        (" 3m", None),
        ("3m\n", None),
        ("08", None),
    ],
)
def test_tmpfs_sizes_are_read_as_the_kernel_reads_them(text, size):
    assert policy.kernel_size(text) == size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("500k", 500 * 2**10),
        ("1.5M", int(1.5 * 2**20)),
        ("2 MiB", 2 * 2**20),
        ("3MB", 3 * 2**20),
        ("1kib", 2**10),
        ("1048576", 2**20),
        ("1.2.3", None),
        ("3Mx", None),
        ("-1", None),
        (".5m", None),
        ("1  k", None),
        ("1m\n", None),
        ("٣m", None),
    ],
)
def test_log_sizes_are_read_as_go_units_reads_them(text, size):
    assert policy.ram_in_bytes(text) == size


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("test 01", True),
        ("a:b", True),
        ("ñu", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("   ", False),
        ("", False),
        ("abc\n", False),
        ("a\tb", False),
    ],
)
def test_network_names_follow_the_engines_rule(name, ok):
    assert names.is_network_name(name) is ok


@pytest.mark.parametrize("ref", ["../containers", "evil.com?x=/foo", "a.b\r\nX: y/foo", "a b.c/x"])
def test_image_references_with_a_malformed_domain_are_no_references(ref):
    assert names.parse_image_ref(ref) is None
