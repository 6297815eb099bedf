"""Every field of the engine's container structs has a rule (nothing passes unchecked)."""

from __future__ import annotations

from sandbox.gateway import policy
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
