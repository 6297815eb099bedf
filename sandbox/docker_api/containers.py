"""Blocking container calls (run them through client.call or client.call_sync)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from django.conf import settings

from sandbox import hardening, project_volume

from . import execs
from .client import SandboxGone


@dataclass(frozen=True)
class ContainerState:
    exists: bool
    running: bool
    status: str  # Docker's word: running, exited, ... or "gone"
    oom_killed: bool  # the main process, or (while running) any process, was OOM-killed
    exit_code: int | None
    oom_kills: int = 0  # processes OOM-killed so far in a running sandbox


@dataclass(frozen=True)
class ManagedContainer:
    """A container as the engine lists it (for the reaper)."""

    id: str
    name: str
    labels: dict[str, str]
    running: bool

    def label_ts(self, key: str) -> float | None:
        try:
            return float(self.labels.get(key, ""))
        except ValueError:
            return None


def create_arguments(api: docker.APIClient, spec: hardening.ContainerSpec) -> dict[str, Any]:
    """The SDK's create_container arguments for a hardened container (bench/ compares the raw
    engine with exactly these)."""
    return {
        "image": spec.image,
        "command": spec.command,
        "name": spec.name,
        "hostname": spec.hostname,
        "user": spec.user,
        "working_dir": spec.working_dir,
        "environment": spec.environment,
        "labels": spec.labels,
        "host_config": api.create_host_config(**spec.host_config),
        "tty": spec.main_shell,
        "stdin_open": spec.main_shell,
    }


def create_and_start(
    api: docker.APIClient, spec: hardening.ContainerSpec, inflight: set[str]
) -> tuple[str, Any | None]:
    """Creates and starts a container, its id in `inflight` from creation on (the caller's set
    of containers not recorded yet: nobody takes them for orphans). One that does not start
    goes, and leaves `inflight`. Returns its id and, for a main shell (spec.main_shell), the
    attach stream to the container's TTY, opened before the start so that not a byte of the
    shell's is missed (nothing reads it yet: the prompt waits in the socket)."""
    container = api.create_container(**create_arguments(api, spec))
    container_id: str = container["Id"]
    inflight.add(container_id)
    stream = None
    try:
        if spec.main_shell:
            stream = attach_tty(api, container_id)
        api.start(container_id)
    except Exception:
        if stream is not None:
            execs.close_stream(stream)
        with contextlib.suppress(Exception):
            api.remove_container(container_id, force=True, v=True)
        inflight.discard(container_id)
        raise
    return container_id, stream


def attach_tty(api: docker.APIClient, container_id: str) -> Any:
    """A raw stream to the container's TTY (stdin and output): an attach, like `docker attach`.
    Closing it leaves the container and its main process as they are."""
    params = {
        "stdin": 1,
        "stdout": 1,
        "stderr": 1,
        "stream": 1,
        "detachKeys": hardening.TERMINAL_DETACH_KEYS,
    }
    return api.attach_socket(container_id, params=params)


def resize_tty(api: docker.APIClient, container_id: str, rows: int, cols: int) -> None:
    api.resize(container_id, height=rows, width=cols)


def remove(api: docker.APIClient, container_id: str) -> str:
    """Removes a container (gone already is fine); returns its gateway folder label ("" if
    none), which the caller may then discard."""
    folder = ""
    with contextlib.suppress(docker.errors.APIError):
        labels = api.inspect_container(container_id).get("Config", {}).get("Labels") or {}
        folder = labels.get(hardening.LABEL_GATEWAY, "")
    try:
        api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: a removal is already in progress
            raise
    if folder:
        # Its project volume (sandbox/project_volume.py): `v=True` spares named volumes. One a
        # student's container still mounts stays; the gateway's cleanup removes it after them.
        with contextlib.suppress(docker.errors.APIError):
            api.remove_volume(project_volume.volume_name(folder))
    return folder


_OOM_KILL = re.compile(rb"^oom_kill (\d+)$", re.MULTILINE)
# cgroup v2, then v1: each holds a counter of processes the OOM killer took in this container.
_OOM_COUNTERS = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"]
# The same counters as the host sees them, under the container's cgroup path.
_HOST_CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")
_HOST_CGROUP_V2 = Path("/sys/fs/cgroup")


def _host_oom_kills(container_id: str, pid: int) -> int | None:
    """The OOM-kill counter read from the host's cgroup files: no `docker exec`, so it costs
    nothing at the engine (it used to be one exec per terminal start, in the middle of a burst)
    and a sandbox whose pids limit is full can't hide a kill. None when this process can't see
    that container's cgroup (an engine on another host, or in another PID namespace): the caller
    falls back to the exec."""
    if pid <= 0:
        return None
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    # Only a path naming this container's full id: /proc/PID of another PID namespace (or a PID
    # reused after the container stopped) is some other process.
    found = [line.split(":", 2) for line in lines if line.count(":") >= 2]
    paths = [(controllers, path) for _, controllers, path in found if container_id in path]
    for controllers, path in sorted(paths, key=lambda item: item[0] == ""):  # v1 memory first
        if "memory" in controllers.split(","):
            counter = _HOST_CGROUP_V1_MEMORY / path.lstrip("/") / "memory.oom_control"
        elif controllers == "":
            counter = _HOST_CGROUP_V2 / path.lstrip("/") / "memory.events"
        else:
            continue
        try:
            text = counter.read_bytes()
        except OSError:
            continue  # e.g. the v2 line of a v1 host: no such file
        return sum(int(n) for n in _OOM_KILL.findall(text))
    return None


def _exec_oom_kills(api: docker.APIClient, container_id: str) -> int:
    """The same counter read inside the container (one exec), where the host's is out of reach."""
    try:
        exec_id = api.exec_create(container_id, ["cat", *_OOM_COUNTERS], user=settings.SANDBOX_USER)
        output = api.exec_start(exec_id["Id"])
    except docker.errors.APIError:
        return 0  # e.g. a sandbox so full of processes that nothing more can start
    return sum(int(n) for n in _OOM_KILL.findall(output or b""))


def _oom_kills(api: docker.APIClient, container_id: str, pid: int) -> int:
    """How many processes the OOM killer took inside a running container. The engine's
    State.OOMKilled only covers the main process (it is set when the container stops)."""
    counted = _host_oom_kills(container_id, pid)
    return counted if counted is not None else _exec_oom_kills(api, container_id)


def state(api: docker.APIClient, container_id: str, *, count_ooms: bool = False) -> ContainerState:
    try:
        info = api.inspect_container(container_id)
    except docker.errors.NotFound:
        return ContainerState(False, False, "gone", False, None)
    st = info.get("State") or {}
    running = bool(st.get("Running"))
    full_id = str(info.get("Id") or container_id)
    pid = int(st.get("Pid") or 0)
    oom_kills = _oom_kills(api, full_id, pid) if running and count_ooms else 0
    return ContainerState(
        exists=True,
        running=running,
        status=str(st.get("Status") or ""),
        oom_killed=bool(st.get("OOMKilled")) or oom_kills > 0,
        exit_code=None if running else st.get("ExitCode"),
        oom_kills=oom_kills,
    )


def gateway_label(api: docker.APIClient, container_id: str) -> tuple[bool, str]:
    """(running, gateway folder name) of a container; (False, "") when it is gone."""
    try:
        info = api.inspect_container(container_id)
    except docker.errors.NotFound:
        return False, ""
    labels = (info.get("Config") or {}).get("Labels") or {}
    running = bool((info.get("State") or {}).get("Running"))
    return running, labels.get(hardening.LABEL_GATEWAY, "")


def rename(api: docker.APIClient, container_id: str, new_name: str) -> None:
    """Renames a container (SandboxGone if it is not there)."""
    try:
        api.rename(container_id, new_name)
    except docker.errors.NotFound as exc:
        raise SandboxGone(container_id) from exc


def rename_running(api: docker.APIClient, container_id: str, new_name: str) -> str:
    """Hands a warm container to its owner: it must still run; its name then says whose it is.
    Returns the name of its gateway folder ("" if it has none)."""
    running, folder = gateway_label(api, container_id)
    if not running:
        raise SandboxGone(container_id)
    try:
        api.rename(container_id, new_name)
    except docker.errors.NotFound as exc:
        raise SandboxGone(container_id) from exc
    return folder


def gateway_folders(api: docker.APIClient) -> set[str]:
    # Every instance's: folders are shared by whoever uses this checkout's var/gateway.
    found = api.containers(all=True, filters={"label": [hardening.LABEL_GATEWAY]})
    return {(item.get("Labels") or {}).get(hardening.LABEL_GATEWAY, "") for item in found} - {""}


def managed(api: docker.APIClient) -> list[ManagedContainer]:
    # Low-level list: containers.list() inspects each one and can raise NotFound mid-removal.
    found = api.containers(all=True, filters=hardening.managed_filters())
    return [
        ManagedContainer(
            id=item["Id"],
            name=(item.get("Names") or ["/"])[0].lstrip("/"),
            labels=item.get("Labels") or {},
            running=item.get("State") == "running",
        )
        for item in found
    ]
