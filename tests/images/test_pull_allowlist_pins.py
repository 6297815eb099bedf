"""Where Docker Hub answers, the pull allowlist can pin the course's images to their tags
(standins.pull_allowlist(): "nginx:1.22", "python:3.11-slim"…): that tag only, never another."""

from __future__ import annotations

from sandbox.course_images import standins
from sandbox.gateway.config import GatewayConfig
from sandbox.gateway.student import Student
from sandbox.gateway.upstream import Upstream


def student(*allowed: str) -> Student:
    config = GatewayConfig(pull_allowlist=frozenset(allowed))
    return Student("ana", config, Upstream(config.engine_socket))


def test_a_pinned_entry_allows_that_tag_only() -> None:
    ana = student("nginx:1.22", "library/python:3.11-slim")
    assert ana.pull_allowed("nginx:1.22")
    assert ana.pull_allowed("docker.io/library/nginx:1.22")
    assert ana.pull_allowed("python:3.11-slim")
    assert not ana.pull_allowed("nginx")  # latest is another tag
    assert not ana.pull_allowed("nginx:1.27")
    assert not ana.pull_allowed("python:3.12-slim")
    assert not ana.pull_allowed("quay.io/nginx:1.22")  # never another registry


def test_a_repository_entry_still_allows_every_tag() -> None:
    ana = student("hello-world")
    assert ana.pull_allowed("hello-world")
    assert ana.pull_allowed("hello-world:linux")


def test_the_course_pins_every_stand_in() -> None:
    ana = student(*standins.pull_allowlist())
    for name in ("nginx:1.22", "mariadb:10.11", "postgres:15", "python:3.11-slim", "wordpress:6.1"):
        assert ana.pull_allowed(name)
    assert not ana.pull_allowed("nginx:1.27")
