"""Hanging up a terminal's shell for good, as closing a real terminal window does.

Closing the exec's stream does not end the shell: with a TTY the engine never closes its side of
the pty when the client goes (moby/moby#9098), so a closed terminal tab (or one whose reconnect
grace ran out while the student's other terminals keep the sandbox) would leave its `bash -l`
and whatever it ran (`docker logs -f`, a server in the foreground) running unseen, using the
sandbox's memory and pids limit.

The engine reports the exec's process by its host pid (for the first terminal's shell, which
runs under the container's main process, hardening.MAIN_SHELL_COMMAND: the main process's, and
the shell is its child there); the host's /proc gives that process's pid inside the container
(NSpid), and a `kill -HUP` run in the container as the student sends bash
the hang-up it forwards to its jobs. The host's /proc only describes the engine's processes when
the engine runs on this host: the process's cgroup must name the container, or nothing is killed
(a remote engine, sandbox/placement/, then keeps the old behaviour).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sandbox import engine, hardening
from sandbox.docker_api.client import call

logger = logging.getLogger(__name__)

PROC = Path("/proc")
HANGUP_TIMEOUT = 10.0


def _exec_pid(api: Any, exec_id: str) -> int | None:
    info = api.exec_inspect(exec_id)
    pid = info.get("Pid") if info.get("Running") else None
    return int(pid) if pid else None


def _children(pid: int, proc: Path) -> list[int]:
    try:
        return [
            int(child)
            for child in (proc / str(pid) / "task" / str(pid) / "children").read_text().split()
        ]
    except (OSError, ValueError):
        return []


def _main_shell_pid(api: Any, container_id: str, proc: Path = PROC) -> int | None:
    """The host pid of the login shell under the container's main process, while it runs:
    docker-init (init=True) -> MAIN_SHELL_COMMAND's bash -> the shell. Only the main process
    counts, docker-init's first child (the lowest pid in the container: every other child of
    docker-init is an orphan of the student's, started later), and only while it still runs
    MAIN_SHELL_COMMAND: once its shell has ended it is `sleep infinity`, and a student's
    process started with the same command line is never taken for it."""
    state = api.inspect_container(container_id).get("State") or {}
    init_pid = state.get("Pid") if state.get("Running") else None
    if not init_pid:
        return None
    children = [
        (pids[-1], child)
        for child in _children(int(init_pid), proc)
        if (pids := _namespace_pids(child, proc))
    ]
    if not children:
        return None
    _inside, main = min(children)
    wanted = "\0".join(hardening.MAIN_SHELL_COMMAND).encode() + b"\0"
    try:
        if (proc / str(main) / "cmdline").read_bytes() != wanted:
            return None
    except OSError:
        return None
    shells = _children(main, proc)
    return shells[0] if len(shells) == 1 else None


def _namespace_pids(host_pid: int, proc: Path) -> list[int]:
    """A process's pid in each pid namespace it is in, outermost first (NSpid)."""
    try:
        status = (proc / str(host_pid) / "status").read_text()
    except OSError:
        return []
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return [int(pid) for pid in line.split()[1:]]
    return []


def pid_in_container(host_pid: int, container_id: str, proc: Path = PROC) -> int | None:
    """The pid `host_pid` has inside its container's pid namespace, if /proc here shows that
    it belongs to `container_id` (else None: another host's pid, or a process already gone)."""
    try:
        cgroup = (proc / str(host_pid) / "cgroup").read_text()
    except OSError:
        return None
    if container_id not in cgroup:
        return None
    pids = _namespace_pids(host_pid, proc)
    return pids[-1] if len(pids) > 1 else None


async def hang_up(tty: Any) -> bool:
    """Sends SIGHUP to the shell of `tty` (an engine.TTY); True when one was sent."""
    sandbox = tty.sandbox
    if tty.exec_id:
        host_pid = await call(_exec_pid, tty.exec_id)
    else:
        host_pid = await call(_main_shell_pid, sandbox.container_id)
    if host_pid is None:
        return False
    pid = pid_in_container(host_pid, sandbox.container_id)
    if pid is None:
        return False
    result = await engine.run(sandbox, ["kill", "-HUP", str(pid)], timeout=HANGUP_TIMEOUT)
    if result.exit_code != 0:
        logger.info("hanging up shell %s of %s failed", pid, sandbox.container_id[:12])
        return False
    return True
