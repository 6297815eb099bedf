"""The Swarm test bed (deploy/swarm/testbed.sh, issue 16 point 4): three real dockerd, each in
its own network namespace on this machine, form a Swarm; sandboxes created as services are
placed by Swarm's scheduler, one per node when each node offers one `sandbox` slot, and a fourth
waits for a free slot. Everything is removed afterwards, including the FORWARD rule."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "swarm" / "testbed.sh"
IMAGE = "muelle/sandbox:latest"


def run(*args: str, timeout: float = 120) -> str:
    return subprocess.run(
        list(args), check=True, capture_output=True, text=True, timeout=timeout
    ).stdout.strip()


def forward_rules() -> str:
    # Other runs on this machine add and remove their own rules: only ours is looked at.
    return run("iptables", "-S", "FORWARD")


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[str]]:
    tag = f"{os.getpid() % 10000}"
    env = {
        **os.environ,
        "MUELLE_SWARM_DIR": tempfile.mkdtemp(prefix="muelle-swarm-", dir="/tmp"),
        "MUELLE_SWARM_TAG": tag,
        "MUELLE_SWARM_NET": str(100 + secrets.randbelow(150)),
        "MUELLE_SWARM_SLOTS": "1",
    }
    rule = f"muelle-swarm-{tag}"  # the comment on the bed's one FORWARD rule
    try:
        out = subprocess.run(
            [SCRIPT, "up"], env=env, check=True, capture_output=True, text=True, timeout=300
        ).stdout
        socks = [line.split("=", 1)[1] for line in out.splitlines() if "_SOCK=" in line]
        assert len(socks) == 3
        assert rule in forward_rules()
        # No registry: every node gets the image, and services name it by id (NOTES-swarm: a
        # tag makes every task wait for a registry).
        image_id = run("docker", "image", "inspect", "-f", "{{.Id}}", IMAGE)
        for sock in socks:
            save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
            subprocess.run(
                ["docker", "-H", sock, "load", "-q"],
                stdin=save.stdout,
                check=True,
                capture_output=True,
                timeout=300,
            )
            assert save.wait(timeout=60) == 0
            assert run("docker", "-H", sock, "image", "inspect", "-f", "{{.Id}}", image_id)
        yield socks
    finally:
        subprocess.run([SCRIPT, "down"], env=env, check=False, timeout=300)
        assert rule not in forward_rules()
        assert f"msw{tag}n" not in run("ip", "netns", "list")
        assert not list(Path("/sys/fs/cgroup").glob(f"*/muelle-swarm-{tag}-node*"))
        assert not Path(env["MUELLE_SWARM_DIR"]).exists()


def create_sandbox_service(manager: str, name: str) -> None:
    image_id = run("docker", "image", "inspect", "-f", "{{.Id}}", IMAGE)
    run(
        "docker", "-H", manager, "service", "create", "--detach", "--name", name,
        "--generic-resource", "sandbox=1",
        "--read-only", "--cap-drop", "ALL", "--user", "1000:1000",
        "--limit-memory", "64m", "--limit-pids", "64",
        "--restart-condition", "none",
        image_id, "sleep", "infinity",
    )  # fmt: skip


def task_of(manager: str, service: str) -> tuple[str, str, str]:
    """(node id, state, error) of the service's only task."""
    task = run("docker", "-H", manager, "service", "ps", "-q", "--no-trunc", service)
    if not task.split():
        # Just created: the orchestrator has not made its task yet (slow on a busy machine).
        return "", "no-task", ""
    out = run(
        "docker", "-H", manager, "inspect", "-f",
        "{{.NodeID}}|{{.Status.State}}|{{.Status.Err}}", task.split()[0],
    )  # fmt: skip
    node, state, err = out.split("|", 2)
    return node, state, err


def wait_for(manager: str, service: str, states: set[str], seconds: float = 60) -> tuple:
    deadline = time.monotonic() + seconds
    while True:
        node, state, err = task_of(manager, service)
        if state in states or time.monotonic() > deadline:
            return node, state, err
        time.sleep(0.2)


def test_three_sandboxes_land_one_on_each_node_and_a_fourth_waits(nodes: list[str]) -> None:
    manager = nodes[0]
    node_ids = run("docker", "-H", manager, "node", "ls", "-q").split()
    assert len(node_ids) == 3
    for n in (1, 2, 3):
        create_sandbox_service(manager, f"sandbox{n}")
    placed = {}
    for n in (1, 2, 3):
        node, state, err = wait_for(manager, f"sandbox{n}", {"running", "failed", "rejected"})
        assert state == "running", err
        placed[f"sandbox{n}"] = node
    assert sorted(placed.values()) == sorted(node_ids)  # one per node
    # Each container runs on the engine of the node Swarm chose, with the hardening asked for.
    by_node = {run("docker", "-H", s, "info", "-f", "{{.Swarm.NodeID}}"): s for s in nodes}
    for service, node in placed.items():
        engine = by_node[node]
        ids = run(
            "docker", "-H", engine, "ps", "-q", "--filter",
            f"label=com.docker.swarm.service.name={service}",
        ).split()  # fmt: skip
        assert len(ids) == 1
        state = run(
            "docker", "-H", engine, "inspect", "-f",
            "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.Config.User}}", ids[0],
        )  # fmt: skip
        assert state == "true [ALL] 1000:1000"
    # Every slot is taken: a fourth sandbox is not placed anywhere.
    create_sandbox_service(manager, "sandbox4")
    # Its task appears (pending, with the scheduler's reason) and stays unplaced.
    wait_for(manager, "sandbox4", {"pending", "running"}, seconds=60)
    node, state, err = wait_for(manager, "sandbox4", {"running"}, seconds=5)
    assert state == "pending" and not node
    assert "insufficient resources" in err
    # A slot frees up: the waiting sandbox lands where it was.
    run("docker", "-H", manager, "service", "rm", "sandbox2")
    node, state, err = wait_for(manager, "sandbox4", {"running"}, seconds=60)
    assert state == "running" and node == placed["sandbox2"]
