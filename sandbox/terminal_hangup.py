"""Hanging up a terminal's shell for good, as closing a real terminal window does.

Closing the exec's stream does not end the shell: with a TTY the engine never closes its side of
the pty when the client goes (moby/moby#9098), so a closed terminal tab (or one whose reconnect
grace ran out while the student's other terminals keep the sandbox) would leave its `bash -l`
and whatever it ran (`docker logs -f`, a server in the foreground) running unseen, using the
sandbox's memory and pids limit.

The engine reports the exec's process by its host pid; the host's /proc gives that process's pid
inside the container (NSpid), and a `kill -HUP` run in the container as the student sends bash
the hang-up it forwards to its jobs. The host's /proc only describes the engine's processes when
the engine runs on this host: the process's cgroup must name the container, or nothing is killed
(a remote engine, sandbox/placement/, then keeps the old behaviour).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sandbox import engine
from sandbox.docker_api.client import call

logger = logging.getLogger(__name__)

PROC = Path("/proc")
HANGUP_TIMEOUT = 10.0


def _exec_pid(api: Any, exec_id: str) -> int | None:
    info = api.exec_inspect(exec_id)
    pid = info.get("Pid") if info.get("Running") else None
    return int(pid) if pid else None


def pid_in_container(host_pid: int, container_id: str, proc: Path = PROC) -> int | None:
    """The pid `host_pid` has inside its container's pid namespace, if /proc here shows that
    it belongs to `container_id` (else None: another host's pid, or a process already gone)."""
    try:
        cgroup = (proc / str(host_pid) / "cgroup").read_text()
        status = (proc / str(host_pid) / "status").read_text()
    except OSError:
        return None
    if container_id not in cgroup:
        return None
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            pids = line.split()[1:]
            return int(pids[-1]) if len(pids) > 1 else None
    return None


async def hang_up(tty: Any) -> bool:
    """Sends SIGHUP to the shell of `tty` (an engine.TTY); True when one was sent."""
    sandbox = tty.sandbox
    host_pid = await call(_exec_pid, tty.exec_id)
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
