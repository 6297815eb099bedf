"""The same requests straight to the real engine, to compare with what a student's gateway does.

Everything created on the engine side is labelled `muelle-fidelity-test=<run>` (containers,
volumes, networks) or tagged under `muelle-fidelity-test/` (images) and removed by that label or
tag only: other tests run on the same engine at the same time.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DOCKER, json_or_text, unix_request

ENGINE_SOCKET = "/var/run/docker.sock"
LABEL = "muelle-fidelity-test"
IMAGE_REPO = "muelle-fidelity-test/"


def raw_request(socket_path: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One API request on a unix socket; (status, parsed JSON, or text, or None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    status, payload = unix_request(socket_path, method, path, data)
    return status, json_or_text(payload) if payload else None


class EngineSide:
    """The real engine with the real CLI, as a student's own Docker would be."""

    def __init__(self, home: Path) -> None:
        self.run_id = uuid.uuid4().hex[:12]
        self.home = home
        self.label = f"{LABEL}={self.run_id}"

    def docker(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=90,
            env={
                "DOCKER_HOST": f"unix://{ENGINE_SOCKET}",
                "HOME": str(self.home),
                "PATH": "/usr/bin:/bin",
                "DOCKER_BUILDKIT": "0",
            },
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        result = self.docker(*args, **kwargs)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def run_options(self) -> list[str]:
        """This run's label, and no network: a student's container has none either, and the
        engine's default bridge is not something these comparisons need."""
        return ["--label", self.label, "--network", "none"]

    def name(self, plain: str) -> str:
        """A name unique to this run for what a student would call `plain`."""
        return f"{plain}-{self.run_id}"

    def raw(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return raw_request(ENGINE_SOCKET, method, path, body)

    def cleanup(self) -> None:
        for kind, listing in (
            ("container", ["ps", "-aq", "--filter", f"label={self.label}"]),
            ("network", ["network", "ls", "-q", "--filter", f"label={self.label}"]),
            ("volume", ["volume", "ls", "-q", "--filter", f"label={self.label}"]),
        ):
            ids = self.docker(*listing).stdout.split()
            if ids:
                extra = ["-f", "-v"] if kind == "container" else []
                self.docker(kind, "rm", *extra, *ids)
        tags = self.docker(
            "images", "--format", "{{.Repository}}:{{.Tag}}", f"{IMAGE_REPO}*{self.run_id}*"
        ).stdout.split()
        if tags:
            self.docker("rmi", *tags)

    def leftovers(self) -> list[str]:
        return (
            self.docker("ps", "-aq", "--filter", f"label={self.label}").stdout.split()
            + self.docker("network", "ls", "-q", "--filter", f"label={self.label}").stdout.split()
            + self.docker("volume", "ls", "-q", "--filter", f"label={self.label}").stdout.split()
        )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineSide]:
    home = tmp_path / "engine-home"
    home.mkdir()
    side = EngineSide(home)
    yield side
    side.cleanup()
    assert side.leftovers() == []
