"""Hostile commands run straight through the engine (engine.run) in a real, hardened sandbox."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import pytest
from django.conf import settings

from sandbox import engine
from tests.sandbox.conftest import exists, inspect, wait_gone

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def sh(sandbox: engine.Sandbox, script: str, timeout: float = 20) -> tuple[int | None, str]:
    result = await engine.run(sandbox, ["bash", "-c", script], timeout=timeout)
    return result.exit_code, result.output.decode(errors="replace")


async def test_filling_the_writable_paths_stops_at_the_tmpfs_size_and_goes_with_the_sandbox():
    """Pass: dd into the work dir and /tmp ends in ENOSPC near each tmpfs size (64m / 16m), the
    root filesystem refuses writes (read-only), and the container is gone after release."""
    sandbox = await engine.acquire("rel-disk")
    code, out = await sh(
        sandbox,
        "dd if=/dev/zero of=$HOME/fill bs=1M count=200 2>&1; echo work=$(du -sm $HOME | cut -f1);"
        "dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1; echo tmp=$(du -sm /tmp | cut -f1);"
        "touch /rootfs-write 2>&1; touch /usr/bin/x 2>&1; true",
    )
    assert out.count("No space left on device") == 2, out
    work = int(out.split("work=")[1].split()[0])
    tmp = int(out.split("tmp=")[1].split()[0])
    assert 60 <= work <= 64 and 12 <= tmp <= 16, out
    assert out.count("Read-only file system") == 2, out
    # The shell still works once the disk is full.
    code, out = await sh(sandbox, "rm $HOME/fill /tmp/fill && echo vuelve")
    assert (code, out.strip()) == (0, "vuelve")

    await engine.release(sandbox)
    assert await wait_gone(sandbox.container_id)
    assert not exists(sandbox.container_id)


async def test_sleep_infinity_is_killed_by_the_run_timeout():
    """Pass: `sleep infinity` returns timed_out=True after the 1 s timeout, and no sleep is left
    running in the container."""
    sandbox = await engine.acquire("rel-sleep")
    result = await engine.run(sandbox, ["sleep", "infinity"], timeout=1)
    assert result.timed_out is True
    left = await engine.run(sandbox, ["ps", "-eo", "args="])
    lines = left.output.decode().splitlines()
    # No `sleep infinity` is left: the container's own main process (under docker-init) only
    # names it in its command line, which runs its login shell until that shell ends.
    assert lines.count("sleep infinity") == 0, lines
    assert not any(line.startswith("timeout") and "infinity" in line for line in lines), lines


async def test_zombies_and_orphans_are_reaped_by_init():
    """Pass: a child that exits under a parent that never waits shows as Z while the parent lives
    (so the probe can see zombies), and no Z process lingers once the parent is gone."""
    sandbox = await engine.acquire("rel-zombie")
    code, out = await sh(
        sandbox,
        # `exec sleep 2` replaces the shell that forked `sleep 0.1`: nobody waits for that child.
        "sh -c 'sleep 0.1 & exec sleep 2' & "
        # Orphans: their parent exits at once, they are re-parented to PID 1.
        "for i in 1 2 3 4 5; do (sleep 0.3 &) ; done; "
        "sleep 1; echo DURING; ps -eo stat=,comm=; wait; sleep 1; echo AFTER; ps -eo stat=,comm=",
    )
    assert code == 0, out
    during, after = out.split("DURING")[1].split("AFTER")
    assert any(line.strip().startswith("Z") for line in during.splitlines()), during
    assert not any(line.strip().startswith("Z") for line in after.splitlines()), after
    _, pid1 = await sh(sandbox, "ps -o comm= -p 1")
    assert pid1.strip() == "docker-init"


async def test_the_sandbox_has_no_network_at_all():
    """Pass: only the loopback interface exists, the routing table is empty, and connects to the
    host's listening test port, the Docker bridge gateway and the usual database/cache ports all
    fail locally (no route), while the host listener never sees a connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    sandbox = await engine.acquire("rel-net")
    try:
        _, links = await sh(sandbox, "ip -o link show | awk -F': ' '{print $2}'")
        assert links.split() == ["lo"], links
        _, routes = await sh(sandbox, "ip route show; ip -6 route show | grep -v '^::1 ' ; true")
        assert routes.strip() == "", routes
        targets = [
            ("127.0.0.1", port),  # the host's loopback is another network namespace
            ("172.17.0.1", 80),  # Docker's bridge gateway: no interface, so no route
            ("172.17.0.1", 2375),  # Docker's TCP API
            ("127.0.0.1", 5432),
            ("127.0.0.1", 6379),
            ("172.17.0.1", 5432),
            ("172.17.0.1", 6379),
        ]
        script = "; ".join(
            f"timeout 2 bash -c 'exec 3<>/dev/tcp/{host}/{p}' 2>&1 && echo OPEN-{host}-{p}"
            for host, p in targets
        )
        _, out = await sh(sandbox, script + "; true")
        assert "OPEN-" not in out, out
        for host, p in targets:
            # Non-loopback: refused by the sandbox's own kernel (no interface, so no route).
            # Loopback: the sandbox's own lo, where nothing listens.
            why = "Connection refused" if host == "127.0.0.1" else "Network is unreachable"
            assert f"/dev/tcp/{host}/{p}: {why}" in out, out
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


async def test_no_docker_socket_and_no_host_files_inside():
    """Pass: no Docker socket anywhere usual, no bind mount from the host, no project files."""
    sandbox = await engine.acquire("rel-socket")
    _, out = await sh(
        sandbox,
        "for p in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock "
        f"{os.getcwd()} /work; do test -e $p && echo PRESENT $p; done; "
        "find / -xdev -type s 2>/dev/null; true",
    )
    assert out.strip() == "", out
    binds = [m for m in inspect(sandbox.container_id)["Mounts"] if m.get("Type") == "bind"]
    # The one bind allowed is the student's own gateway folder (docs/gateway.md), read-only:
    # it holds the gateway's socket, never the engine's.
    for mount in binds:
        assert mount["Destination"] == settings.DOCKER_GATEWAY_MOUNT_TARGET, mount
        assert mount["RW"] is False, mount
        source = Path(mount["Source"]).resolve()
        assert source.is_relative_to(Path(settings.DOCKER_GATEWAY_SOCKET_DIR).resolve()), mount
        assert source != Path(settings.DOCKER_GATEWAY_ENGINE_SOCKET).resolve().parent, mount
    assert len(binds) == (1 if settings.DOCKER_GATEWAY_ENABLED else 0), binds


async def test_proc_and_sys_cannot_be_written_and_sensitive_files_are_masked():
    """Pass: writes to /proc/sys/kernel and the cgroup tree fail; /proc/kcore, /proc/keys and
    /proc/timer_list read as empty (masked) and /sys/firmware is empty."""
    sandbox = await engine.acquire("rel-proc")
    _, out = await sh(
        sandbox,
        "echo 1 > /proc/sys/kernel/sysrq 2>/dev/null && echo WROTE-sysrq;"
        "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo WROTE-hostname;"
        "mkdir /sys/fs/cgroup/memory/evil 2>/dev/null && echo WROTE-cgroup;"
        "echo 999999999999 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
        "&& echo WROTE-limit;"
        "echo c > /proc/sysrq-trigger 2>/dev/null && echo WROTE-trigger;"
        "for f in /proc/kcore /proc/keys /proc/timer_list; do "
        "echo $f=$(head -c 16 $f 2>/dev/null | wc -c); done;"
        "echo firmware=$(ls -A /sys/firmware 2>/dev/null | wc -l)",
    )
    assert "WROTE" not in out, out
    for masked in ("/proc/kcore=0", "/proc/keys=0", "/proc/timer_list=0", "firmware=0"):
        assert masked in out, out


async def test_privilege_escalation_attempts_fail():
    """Pass: mount, unshare -Ur, su and the image's setuid binaries never give root: the shell
    has no capabilities, no_new_privs is set, and `id -u` stays 1000."""
    sandbox = await engine.acquire("rel-priv")
    _, out = await sh(
        sandbox,
        "mount -t tmpfs x /mnt 2>&1 && echo ROOT-mount;"
        "unshare -Ur true 2>&1 && echo ROOT-unshare;"
        "unshare -r id -u 2>&1 && echo ROOT-unshare-r;"
        "su -c 'id -u' root </dev/null 2>&1 && echo ROOT-su;"
        "newgrp root </dev/null 2>&1 && echo ROOT-newgrp;"
        "grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status; echo uid=$(id -u)",
    )
    assert "ROOT-" not in out, out
    assert "CapEff:\t0000000000000000" in out and "CapPrm:\t0000000000000000" in out, out
    assert "NoNewPrivs:\t1" in out, out
    assert "uid=1000" in out, out
    # The setuid-root mount ran without root: util-linux says so itself.
    assert "must be superuser" in out, out


async def test_a_canary_in_the_web_process_environment_never_reaches_the_sandbox(monkeypatch):
    """Pass: a random MUELLE_CANARY set in os.environ before acquiring appears neither in the
    sandbox's `env` nor in any /proc/*/environ it can read, nor in the container's Config.Env."""
    canary = secrets.token_hex(16)
    monkeypatch.setenv("MUELLE_CANARY", canary)
    sandbox = await engine.acquire("rel-canary")
    _, out = await sh(sandbox, "env; cat /proc/1/environ /proc/*/environ 2>/dev/null; true")
    assert "PATH=" in out  # the probe did read an environment
    assert canary not in out
    assert "MUELLE_CANARY" not in out
    assert canary not in " ".join(inspect(sandbox.container_id)["Config"]["Env"] or [])
