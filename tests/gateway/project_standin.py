"""A stand-in for a student's sandbox, for the project-folder tests: a container on the real
engine mounting the student's project volume exactly as sandbox.hardening mounts it (same
spec, same name from the student's gateway folder), where the tests play the student's side
(write files, plant symlinks) as the sandbox user.

The gateway tests drive the real `docker` CLI on this host against the student's socket, so
the sandbox itself is not needed; its project volume is what the gateway maps a bind onto."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import project_volume
from sandbox.engine_names import LABEL_GATEWAY, LABEL_ROLE, SANDBOX_ROLE

DOCKER = "/usr/bin/docker"
SANDBOX_USER = "1000:1000"


@dataclass
class ProjectSide:
    """The sandbox's side of one student's project folder."""

    container: str
    volume: str
    folder: str  # /home/alumno/proyecto

    def sh(self, script: str) -> str:
        """Runs `script` as the sandbox user in the stand-in; returns its output."""
        result = subprocess.run(
            [DOCKER, "exec", "-u", SANDBOX_USER, self.container, "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 0, (script, result.stdout, result.stderr)
        return result.stdout


def _engine(*args: str) -> subprocess.CompletedProcess[str]:
    # The engine's own socket (default DOCKER_HOST): Muelle's side, never the student's.
    return subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
    )


def start_standin(
    folder: Path, image: str = "muelle/busybox", as_sandbox: bool = False
) -> ProjectSide:
    """`as_sandbox`: as a sandbox is (sandbox/hardening.py), so that the gateway finds it as the
    student's sandbox (the disk measure does): its labels (role, gateway folder), docker-init
    as its first process, a read-only root, no capabilities, and the gateway folder mounted
    read-only at /run/muelle."""
    folder_name = folder.name
    spec = project_volume.mount(folder_name)
    options = spec["VolumeOptions"]["DriverConfig"]["Options"]
    name = f"pytest-proyecto-{uuid.uuid4().hex[:10]}"
    mount = ",".join(
        [
            "type=volume",
            f"src={spec['Source']}",
            f"dst={spec['Target']}",
            "volume-driver=local",
            *(f"volume-label={k}={v}" for k, v in spec["VolumeOptions"]["Labels"].items()),
            f"volume-opt=type={options['type']}",
            f"volume-opt=device={options['device']}",
            f'"volume-opt=o={options["o"]}"',
            "volume-nocopy",
        ]
    )
    labels = []
    if as_sandbox:
        labels = [
            "--label", f"{LABEL_ROLE}={SANDBOX_ROLE}", "--label", f"{LABEL_GATEWAY}={folder_name}",
            "--init", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-v", f"{folder}:/run/muelle:ro",
        ]  # fmt: skip
    result = _engine(
        "run", "-d", "--name", name, "--user", SANDBOX_USER, "--network", "none",
        "--tmpfs", "/home/alumno:rw,uid=1000,gid=1000,mode=0700", *labels,
        "--mount", mount, image, "sleep", "900",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return ProjectSide(result.stdout.strip(), spec["Source"], spec["Target"])


def stop_standin(side: ProjectSide) -> None:
    _engine("rm", "-f", side.container)
    _engine("volume", "rm", side.volume)


def engine_has_volume(name: str) -> bool:
    return _engine("volume", "inspect", name).returncode == 0


def project_sides() -> Iterator[Callable[..., ProjectSide]]:
    """For a fixture `project_of`: `project_of(student)` is their project folder, as their
    sandbox would have it; every stand-in goes at teardown."""
    made: list[ProjectSide] = []

    def make(student: Any, **options: Any) -> ProjectSide:
        side = start_standin(student.folder, **options)
        made.append(side)
        return side

    yield make
    for side in made:
        stop_standin(side)
