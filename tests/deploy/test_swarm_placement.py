"""Muelle places sandboxes across a real 3-node Swarm (SANDBOX_PLACEMENT=swarm, issue 16 points
2-4), over mutual TLS to every node's engine (the bed's CA and client certificate): Swarm's
scheduler picks the node (a placeholder service reserving one `sandbox` slot), the
hardened sandbox is created on that node's engine with every local option, the student's
`docker run` through their gateway lands on the same node, a drained node gets no new sandboxes
and its students move when they come back, and a node whose dockerd is killed -9 loses its
students to another node with a Spanish explanation. One test bed per module (deploy/swarm/
testbed.sh), always torn down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.swarm_bed import SwarmBed, run
from sandbox import engine, placement, student_docker
from sandbox.docker_api.client import client_for, engine_of
from sandbox.gateway import lifecycle
from sandbox.gateway.student import Student
from sandbox.gateway.upstream import Upstream
from sandbox.models import SandboxRecord
from sandbox.ports import students as port_tables
from sandbox.ports.table import NothingListens

from .swarm_muelle import bed_with_images, muelle_on_bed

pytestmark = [pytest.mark.docker]

IMAGES = ["muelle/sandbox:latest", "muelle/busybox:latest", "muelle/hola:latest"]
INSTANCE = f"pytest-swarm-{os.getpid()}"
GATEWAY_DIR = Path(f"/tmp/muelle-swp-{os.getpid()}")  # noqa: S108 (short: socket paths)


@pytest.fixture(scope="module")
def bed() -> Iterator[SwarmBed]:
    with bed_with_images(f"p{os.getpid() % 10000}", 5, IMAGES, GATEWAY_DIR) as made:
        yield made


@pytest.fixture
async def swarm(settings: Any, transactional_db: None, bed: SwarmBed) -> AsyncIterator[SwarmBed]:
    async with muelle_on_bed(settings, bed, INSTANCE, GATEWAY_DIR) as ready:
        yield ready


def placeholders(bed: SwarmBed) -> list[str]:
    out = run(
        "docker", "-H", bed.socks[0], "service", "ls", "-q",
        "--filter", f"label=muelle.placeholder={INSTANCE}",
    )  # fmt: skip
    return sorted(out.split())


def placeholders_by_name(bed: SwarmBed) -> list[str]:
    out = run(
        "docker", "-H", bed.socks[0], "service", "ls", "--format", "{{.Name}}",
        "--filter", f"label=muelle.placeholder={INSTANCE}",
    )  # fmt: skip
    return sorted(out.split())


def task_node(bed: SwarmBed, service: str) -> str:
    """The node id of the service's task (every node here has the same host name)."""
    task = run("docker", "-H", bed.socks[0], "service", "ps", "-q", "--no-trunc", service)
    return run("docker", "-H", bed.socks[0], "inspect", "-f", "{{.NodeID}}", task.split()[0])


def on_node(bed: SwarmBed, n: int, container_id: str) -> bool:
    found = run("docker", "-H", bed.socks[n], "ps", "-aq", "--no-trunc")
    return container_id in found.split()


def on_main_engine(container_id: str) -> bool:
    return container_id in run("docker", "ps", "-aq", "--no-trunc").split()


@contextlib.contextmanager
def calls_time_out_after(address: str, seconds: float) -> Iterator[None]:
    """Muelle's calls to that engine (not its looks, which give up after LOOK_TIMEOUT) give
    up after `seconds` instead of the usual minute: a stopped node is then seen not answering
    well within Swarm's heartbeat grace (10-15 s), so Swarm still says «ready», as in the
    moment these tests stand for."""
    api = client_for(address)
    before = api.timeout
    api.timeout = seconds
    try:
        yield
    finally:
        api.timeout = before


@contextlib.contextmanager
def manager_drained(bed: SwarmBed) -> Iterator[None]:
    """Sandboxes go to the two workers only, while it lasts: a node a test stops is then
    never the manager, whom Muelle asks for the nodes."""
    manager = bed.node_id(0)
    run("docker", "-H", bed.socks[0], "node", "update", "--availability", "drain", manager)
    try:
        yield
    finally:
        run("docker", "-H", bed.socks[0], "node", "update", "--availability", "active", manager)


async def eventually(check: Any, within: float = 60.0) -> bool:
    """Waits for something Swarm or the background does (a bound, not a speed assertion)."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def test_sandboxes_spread_over_the_nodes_hardened_with_a_slot_reserved_each(
    swarm: SwarmBed,
) -> None:
    bed = swarm
    boxes = [await engine.acquire(f"owner-spread-{i}") for i in range(3)]
    nodes = [bed.node_of(engine_of(box.container_id)) for box in boxes]
    assert sorted(nodes) == [0, 1, 2]  # Swarm's spread: one per node
    node_ids = {bed.node_id(n): n for n in range(3)}
    for box, n in zip(boxes, nodes, strict=True):
        assert on_node(bed, n, box.container_id)
        assert not on_main_engine(box.container_id)
        # Every option a local sandbox has, which a service could not carry (NOTES-swarm).
        flags = run(
            "docker", "-H", bed.socks[n], "inspect", "-f",
            "{{.HostConfig.NetworkMode}} {{.HostConfig.SecurityOpt}} "
            "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.Init}} "
            "{{index .Config.Labels \"muelle.placement\"}}",
            box.container_id,
        ).split()  # fmt: skip
        assert flags[:5] == ["none", "[no-new-privileges]", "true", "[ALL]", "true"]
        # Its placeholder holds the slot on that very node.
        assert node_ids[task_node(bed, flags[5])] == n
        result = await engine.run(box, ["sh", "-c", "echo hola; cat /proc/net/route | wc -l"])
        assert result.exit_code == 0 and result.output.split() == [b"hola", b"1"]
    assert len(placeholders(bed)) == 3
    # A sandbox that ends frees its slot.
    for box in boxes:
        await engine.remove_now(box.container_id)
    assert await eventually(lambda: not placeholders(bed))


async def test_a_students_docker_run_lands_on_the_node_of_their_sandbox(swarm: SwarmBed) -> None:
    bed = swarm
    owner = "owner-docker-run"
    box = await engine.acquire(owner)
    n = bed.node_of(engine_of(box.container_id))
    result = await engine.run(
        box,
        ["bash", "-c", "docker run -d --name web muelle/busybox sleep 300 >/dev/null && "
         "echo por-tls | docker run -i --rm muelle/busybox cat && "
         "docker info -f 'swarm={{json .Swarm}}' && docker tag muelle/busybox mia:1 && "
         "docker run --rm -v notas:/d muelle/busybox sh -c 'echo hola-nodo > /d/f.txt' && "
         "docker run --rm muelle/hola && docker ps --format '{{.Names}}'"],
        timeout=90,
    )  # fmt: skip
    output = result.output.decode()
    assert result.exit_code == 0, output
    assert "¡Hola desde Muelle!" in output and output.split()[-1] == "web"
    # The node is in a Swarm, but the student's engine is not: it says what an engine outside
    # any Swarm (this machine's own) says, with no cluster, CA or managers.
    swarm_line = next(line for line in output.splitlines() if line.startswith("swarm="))
    outside = run("docker", "info", "-f", "{{json .Swarm}}")
    assert json.loads(swarm_line.removeprefix("swarm=")) == json.loads(outside)
    assert json.loads(outside)["LocalNodeState"] == "inactive"
    # Its stdin's end crossed the gateway and the TLS to the node (cat ended).
    assert output.split()[0] == "por-tls"
    # The gateway reached the node's engine at its TLS port (the only one it listens on).
    assert engine_of(box.container_id) == bed.engine(n) and bed.engine(n).endswith(":2376")
    config = lifecycle.current_config()
    here = await Student(owner, config, Upstream(bed.socks[n])).containers()
    elsewhere = [
        await Student(owner, config, Upstream(sock)).containers()
        for sock in [*bed.socks[:n], *bed.socks[n + 1 :], "unix:///var/run/docker.sock"]
    ]
    assert len(here) == 1 and "web" in here[0]["Names"][0]
    assert elsewhere == [[], [], []]
    # «Comprobar» reads the student's images and volumes on their node, not on this server's
    # engine (where they are not).
    view = await student_docker.for_owner(owner)
    assert "mia:1" in [tag for image in await view.images() for tag in image["RepoTags"]]
    read = await student_docker.read_volume_file(owner, view, "notas", "f.txt", 1024)
    assert read.kind == "file" and read.data == b"hola-nodo\n"
    # The end of the sandbox cleans the student's containers on that node too.
    await engine.remove_now(box.container_id)
    assert await Student(owner, config, Upstream(bed.socks[n])).containers() == []


def node_listeners(bed: SwarmBed, n: int) -> set[int]:
    """The TCP ports listening in node n's own network namespace (its 'machine')."""
    pid = (bed.dir / f"node{n + 1}" / "docker.pid").read_text().strip()
    namespace = run("ip", "netns", "identify", pid)
    out = run("ip", "netns", "exec", namespace, "ss", "-Hltn")
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()}


async def test_a_port_published_on_a_node_reaches_the_table_through_the_nodes_engine(
    swarm: SwarmBed,
) -> None:
    bed = swarm
    owner = "owner-ports"
    box = await engine.acquire(owner)
    n = bed.node_of(engine_of(box.container_id))
    before = await asyncio.to_thread(node_listeners, bed, n)
    page = (
        "mkdir -p /tmp/w && echo pagina-del-nodo > /tmp/w/index.html && "
        "exec httpd -f -p 80 -h /tmp/w"
    )
    result = await engine.run(
        box,
        ["bash", "-c", f"docker run -d --name web -p 8080:80 muelle/busybox sh -c '{page}' "
         ">/dev/null && docker run -d --name mudo -p 8081:81 muelle/busybox sleep 300 "
         ">/dev/null && docker ps -a --format '{{.Names}}'"],
        timeout=90,
    )  # fmt: skip
    output = result.output.decode()
    assert result.exit_code == 0, output
    assert sorted(output.split()) == ["mudo", "web"]  # the carriers are none of the student's
    table = port_tables.table_of(owner)
    assert table is not None
    deadline = time.monotonic() + 60
    while {item["host_port"] for item in table.summary()} != {8080, 8081}:
        assert time.monotonic() < deadline, table.summary()
        await asyncio.sleep(0.2)
    web = next(entry for entry in table.running.values() if entry.name == "web")
    # On a Swarm node the transport is the node's engine, never a namespace of this machine.
    assert {entry.carrier.kind for entry in table.running.values()} == {"engine"}
    for _attempt in range(2):  # twice: each connection is an exec of its own
        reader, writer = await table.connect(8080)
        writer.write(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=60)
        writer.close()
        assert answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n")[0]
        assert answer.rstrip().endswith(b"pagina-del-nodo")
    with pytest.raises(NothingListens):
        await table.connect(8081)
    # The carrier sits in the web container's namespace on the same node, locked down; the
    # node listens on nothing new.
    carriers = run(
        "docker", "-H", bed.socks[n], "ps", "-q", "--no-trunc",
        "--filter", f"label=muelle.port-carrier={web.container_id}",
    ).split()  # fmt: skip
    assert len(carriers) == 1
    flags = run(
        "docker", "-H", bed.socks[n], "inspect", "-f",
        "{{.HostConfig.NetworkMode}} {{.HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}} "
        "{{.HostConfig.CapDrop}} {{.Config.User}}",
        carriers[0],
    ).split()  # fmt: skip
    assert flags == [f"container:{web.container_id}", "[no-new-privileges]", "true", "[ALL]",
                     "1000:1000"]  # fmt: skip
    assert await asyncio.to_thread(node_listeners, bed, n) == before
    # The container stops: its port goes, and so does its carrier.
    stopped = await engine.run(box, ["docker", "stop", "-t", "1", "web"], timeout=60)
    assert stopped.exit_code == 0
    assert await eventually(
        lambda: not run(
            "docker", "-H", bed.socks[n], "ps", "-aq",
            "--filter", f"label=muelle.port-carrier={web.container_id}",
        )
    )  # fmt: skip
    assert {item["host_port"] for item in table.summary()} == {8081}
    # A connection still asked of that carrier (a request racing the stop) fails as a local
    # connect into a namespace that is gone does: an OSError, which the preview answers.
    with pytest.raises(OSError):
        await web.carrier.connect(web.address, 80)
    await engine.remove_now(box.container_id)


async def test_the_reapers_sweep_removes_what_a_dead_web_process_left_on_every_node(
    swarm: SwarmBed,
) -> None:
    from sandbox import gateway as docker_gateway
    from sandbox import reaper

    bed = swarm
    live_owner = "owner-sweep-live"
    box = await engine.acquire(live_owner)
    n = bed.node_of(engine_of(box.container_id))
    made = await engine.run(
        box, ["docker", "run", "-d", "--name", "vivo", "muelle/busybox", "sleep", "300"], timeout=90
    )
    assert made.exit_code == 0, made.output
    # A web process that died: its student's objects on each node, with no sandbox anywhere.
    dead = "owner-sweep-dead"
    labels = ["--label", f"muelle.instance={INSTANCE}", "--label", f"muelle.student={dead}"]
    for sock in bed.socks:
        run("docker", "-H", sock, "run", "-d", *labels, "muelle/busybox", "sleep", "300")
        run("docker", "-H", sock, "network", "create", *labels, f"huerfana-{os.getpid()}")
        run("docker", "-H", sock, "volume", "create", *labels, f"huerfano-{os.getpid()}")

    def left_by(owner: str, sock: str) -> list[str]:
        found = []
        for kind in ("ps -aq", "network ls -q", "volume ls -q"):
            found += run(
                "docker", "-H", sock, *kind.split(), "--filter", f"label=muelle.student={owner}",
            ).split()  # fmt: skip
        return found

    assert all(len(left_by(dead, sock)) == 3 for sock in bed.socks)
    # The socket volume of a sandbox's `curl localhost` (node_loopback) that its end left
    # behind, unused: the sweep removes it too.
    gone_socket_volume = f"muelle.port-loopback=ido-{os.getpid()}"
    run("docker", "-H", bed.socks[n], "volume", "create", "--label", gone_socket_volume)
    report = await reaper.reap()
    volume_filter = f"label={gone_socket_volume}"
    assert not run("docker", "-H", bed.socks[n], "volume", "ls", "-q", "--filter", volume_filter)
    assert dead in report.students_cleaned and live_owner not in report.students_cleaned
    assert [left_by(dead, sock) for sock in bed.socks] == [[], [], []]
    # The live student keeps their container, and their sandbox is untouched.
    config = lifecycle.current_config()
    mine = await Student(live_owner, config, Upstream(bed.socks[n])).containers()
    assert len(mine) == 1 and mine[0]["Names"][0].endswith("_vivo")
    assert mine[0]["State"] == "running"
    assert on_node(bed, n, box.container_id)
    # A node that does not answer (here: an address where no engine is) is skipped; the
    # others are still swept.
    run("docker", "-H", bed.socks[0], "volume", "create", *labels, f"otra-{os.getpid()}")
    nowhere = "tcp://" + bed.addrs[0].rsplit(".", 1)[0] + ".250:2376"
    cleaned = await docker_gateway.sweep_orphans([live_owner], engines=[nowhere, *bed.engines])
    assert cleaned == [dead] and left_by(dead, bed.socks[0]) == []
    await engine.remove_now(box.container_id)


async def test_a_reaper_pass_while_a_node_does_not_answer_forgets_none_of_its_sandboxes(
    swarm: SwarmBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attack review found a pass of the reaper, while one node's engine did not answer (or
    Swarm was unsure of it, as every node is «unknown» after a change of leader), taking every
    sandbox there for gone: their rows deleted, their placeholders removed (their slots free for
    others), their students' gateways ended and what they had made removed. A node's dockerd
    stopped (SIGSTOP: Swarm still says «ready» for some seconds) stands for it. The pass keeps
    all of it, says so, and the next pass, with the node back, finds everything in place."""
    from sandbox import reaper
    from sandbox.gateway import lifecycle as gateway_lifecycle

    bed = swarm
    # The node stopped must not be the manager, whom the reaper asks for the nodes.
    with manager_drained(bed):
        owner = "owner-quiet-node"
        box = await engine.acquire(owner)
        n = bed.node_of(engine_of(box.container_id))
        assert n in (1, 2) and gateway_lifecycle.is_open(owner)
        # A student of another web process on the same node: their gateway folder is mounted
        # by their sandbox there and served by nobody here.
        others = []  # kept until the end: Swarm spreads, so the next one goes to node n
        for i in range(4):
            others.append(await engine.acquire(f"owner-quiet-node-other-{i}"))
            if bed.node_of(engine_of(others[-1].container_id)) == n:
                break
        elsewhere = others[-1]
        assert bed.node_of(engine_of(elsewhere.container_id)) == n
        # Only the passes of this test: a background one after Swarm marks the stopped node
        # down would rightly take its sandbox for lost.
        await engine.stop_background_tasks()  # (their gateways stop too, keeping their folders)
        await gateway_lifecycle.open_gateway(owner)
        their_folder = gateway_lifecycle.socket_dir(elsewhere.owner)
        assert their_folder.is_dir() and not gateway_lifecycle.is_open(elsewhere.owner)
        # Any age counts from here (once the sandbox exists, its placeholder is wanted): a
        # placeholder or row the pass took for gone would go at once.
        monkeypatch.setattr(placement, "SWEEP_GRACE", 0.0)
        held = placeholders(bed)
        pid = int((bed.dir / f"node{n + 1}" / "docker.pid").read_text())
        # The pass's look at the stopped node gives up after LOOK_TIMEOUT (3 s), twice: well
        # within Swarm's heartbeat grace (~13 s here), so Swarm still says «ready».
        os.kill(pid, signal.SIGSTOP)
        try:
            report = await reaper.reap(orphan_grace=0.0)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert report.incomplete and report.errors == []
        assert report.forgotten_rows == 0
        assert await SandboxRecord.objects.filter(container_id=box.container_id).aexists()
        assert placeholders(bed) == held
        assert gateway_lifecycle.is_open(owner) and owner not in report.students_cleaned
        assert their_folder.is_dir() and report.folders_removed == []
        # The node answers again (and Swarm says so): the next pass sees the sandbox and
        # leaves it be.
        node = bed.node_id(n)

        def ready() -> bool:
            state = run(
                "docker", "-H", bed.socks[0], "node", "inspect", "-f", "{{.Status.State}}", node
            )
            return state.strip() == "ready"

        assert await eventually(ready)
        again = await reaper.reap()
        assert not again.incomplete and again.errors == [] and again.forgotten_rows == 0
        assert on_node(bed, n, box.container_id) and placeholders(bed) == held
        assert b"sigo" in (await engine.run(box, ["echo", "sigo"])).output
        for sandbox in (box, *others):
            await engine.remove_now(sandbox.container_id)


async def test_a_sandbox_whose_node_does_not_answer_is_not_counted_removed_at_shutdown(
    swarm: SwarmBed,
) -> None:
    """At shutdown the server removes its sandboxes and watches them go (sandbox.shutdown),
    to say which are left for the next start's prune_sandboxes. A review found the watch
    counting a sandbox whose node did not answer as removed: it was missing from a look at
    the nodes that could not see that node. It now stays waited for, and is reported left."""
    from sandbox import shutdown

    bed = swarm
    with manager_drained(bed):
        box = await engine.acquire("owner-unanswered-removal")
        address = engine_of(box.container_id)
        assert address is not None
        n = bed.node_of(address)
        assert n in (1, 2)
        # Another sandbox, on the other node: Swarm spreads, so the next one goes there.
        extra = []
        for i in range(4):
            extra.append(await engine.acquire(f"owner-unanswered-removal-other-{i}"))
            if bed.node_of(engine_of(extra[-1].container_id)) != n:
                break
        other = extra.pop()
        assert bed.node_of(engine_of(other.container_id)) not in (0, n)
        await engine.stop_background_tasks()  # only this test's looks at the nodes
        pid = int((bed.dir / f"node{n + 1}" / "docker.pid").read_text())
        # The removal's calls give up after 2 s (not the usual minute); each of the watch's
        # looks at the nodes after LOOK_TIMEOUT (3 s): it sees the node not answer.
        with calls_time_out_after(address, 2.0):
            os.kill(pid, signal.SIGSTOP)
            try:
                removal = asyncio.ensure_future(
                    asyncio.to_thread(placement.remove_sync, box.container_id)
                )
                left = await shutdown.wait_until_gone([box.container_id], timeout=5.0)
                await removal
            finally:
                os.kill(pid, signal.SIGCONT)
        assert left == {box.container_id}
        # Still bound to the node it may run on, and it does.
        assert engine_of(box.container_id) == address
        assert on_node(bed, n, box.container_id)
        # With the node answering, its removal goes through and the watch sees it gone.
        await engine.remove_now(box.container_id)
        assert not on_node(bed, n, box.container_id)
        assert engine_of(box.container_id) is None
        assert await shutdown.wait_until_gone([box.container_id], timeout=10.0) == set()
        # A node that hangs does not hold the watch for the others: its look gives up after
        # LOOK_TIMEOUT (3 s), not a call's minute, so a sandbox being removed from a node that
        # answers is seen gone within the shutdown's budget (watched from the start of its
        # removal, as at a shutdown).
        os.kill(pid, signal.SIGSTOP)
        try:
            removal = asyncio.ensure_future(engine.remove_now(other.container_id))
            left = await shutdown.wait_until_gone([other.container_id], timeout=shutdown.BUDGET)
            await removal
        finally:
            os.kill(pid, signal.SIGCONT)
        assert left == set()
        for sandbox in extra:
            await engine.remove_now(sandbox.container_id)


async def test_a_placeholder_that_ended_under_a_running_sandbox_holds_its_slot_again(
    swarm: SwarmBed,
) -> None:
    """A placeholder is never restarted: once its task ends (here its container is killed on
    the node, as a stray `docker kill` would) it holds no slot, and Swarm would send that node
    one sandbox more than it has room for. A review found that only the first assignment was
    ever checked. The reaper's pass starts it again (the same service), pinned to the
    sandbox's node."""
    from sandbox import reaper

    bed = swarm
    box = await engine.acquire("owner-ended-placeholder")
    await engine.stop_background_tasks()  # this test's reaper pass only
    n = bed.node_of(engine_of(box.container_id))
    service = run(
        "docker", "-H", bed.socks[n], "inspect", "-f",
        '{{index .Config.Labels "muelle.placement"}}', box.container_id,
    )  # fmt: skip
    assert service in placeholders_by_name(bed)

    def placeholder_container() -> str:
        return run(
            "docker", "-H", bed.socks[n], "ps", "-q",
            "--filter", f"label=com.docker.swarm.service.name={service}",
        )  # fmt: skip

    # A sandbox starts once its placeholder is assigned; the placeholder's container follows.
    assert await eventually(lambda: bool(placeholder_container()))
    run("docker", "-H", bed.socks[n], "kill", placeholder_container())

    def task_state() -> str:
        return run(
            "docker", "-H", bed.socks[0], "service", "ps", "--no-trunc",
            "--format", "{{.CurrentState}}", service,
        ).split("\n")[0]  # fmt: skip

    assert await eventually(lambda: task_state().startswith("Failed"))
    report = await reaper.reap()
    assert report.errors == [] and not report.incomplete

    assert await eventually(lambda: task_state().startswith("Running"))
    assert task_node(bed, service) == bed.node_id(n)
    constraints = run(
        "docker", "-H", bed.socks[0], "service", "inspect", "-f",
        "{{json .Spec.TaskTemplate.Placement.Constraints}}", service,
    )  # fmt: skip
    assert f"node.id=={bed.node_id(n)}" in json.loads(constraints)
    # The sandbox is untouched, and its removal takes the new placeholder with it.
    assert b"sigo" in (await engine.run(box, ["echo", "sigo"])).output
    await engine.remove_now(box.container_id)
    assert service not in placeholders_by_name(bed)


async def test_curl_localhost_in_a_sandbox_on_a_node_reaches_its_students_published_port(
    swarm: SwarmBed,
) -> None:
    bed = swarm
    owner = "owner-loopback"
    box = await engine.acquire(owner)
    n = bed.node_of(engine_of(box.container_id))
    # Another student whose sandbox is on the same node.
    other = None
    for i in range(6):
        candidate = await engine.acquire(f"owner-loopback-other-{i}")
        if bed.node_of(engine_of(candidate.container_id)) == n:
            other = candidate
            break
    assert other is not None
    before = await asyncio.to_thread(node_listeners, bed, n)
    page = (
        "mkdir -p /tmp/w && echo pagina-por-localhost > /tmp/w/index.html && "
        "exec httpd -f -p 80 -h /tmp/w"
    )
    started = await engine.run(
        box,
        ["bash", "-c", f"docker run -d --name web -p 8080:80 muelle/busybox sh -c '{page}'"],
        timeout=90,
    )
    assert started.exit_code == 0, started.output
    curl = ["curl", "-s", "--max-time", "5", "localhost:8080"]

    async def page_in(sandbox: Any) -> tuple[int, bytes]:
        result = await engine.run(sandbox, curl, timeout=30)
        return result.exit_code, result.output

    # The port is set up asynchronously from the engine's events: a bound, not a speed check.
    deadline = time.monotonic() + 60
    while (answer := await page_in(box))[0] != 0:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.5)
    assert answer[1].strip() == b"pagina-por-localhost"
    # Twice more and at once: each connection is carried on its own.
    answers = await asyncio.gather(page_in(box), page_in(box))
    assert answers == [(0, b"pagina-por-localhost\n")] * 2
    # Another student's sandbox on the same node: nothing listens on that port there.
    code, output = await page_in(other)
    assert code != 0 and b"pagina" not in output
    # The listeners are in the sandbox's namespace, on the node, locked down; the node's own
    # network listens on nothing new.
    assert await asyncio.to_thread(node_listeners, bed, n) == before
    loopbacks = run(
        "docker", "-H", bed.socks[n], "ps", "-q", "--no-trunc",
        "--filter", f"label=muelle.port-loopback={box.container_id}",
    ).split()  # fmt: skip
    assert len(loopbacks) == 1
    flags = run(
        "docker", "-H", bed.socks[n], "inspect", "-f",
        "{{.HostConfig.NetworkMode}} {{.HostConfig.PidMode}} {{.HostConfig.SecurityOpt}} "
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.Config.User}}",
        loopbacks[0],
    ).split()  # fmt: skip
    assert flags == [f"container:{box.container_id}", f"container:{box.container_id}",
                     "[no-new-privileges]", "true", "[ALL]", "1000:1000"]  # fmt: skip
    # The container stops: localhost:8080 in the sandbox answers nothing any more.
    stopped = await engine.run(box, ["docker", "stop", "-t", "1", "web"], timeout=60)
    assert stopped.exit_code == 0
    deadline = time.monotonic() + 60
    while (answer := await page_in(box))[0] == 0:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.5)
    # The sandbox ends: its loopback carrier goes with it, and so does its socket volume.
    await engine.remove_now(box.container_id)
    await engine.remove_now(other.container_id)

    def loopback_left() -> str:
        label = f"label=muelle.port-loopback={box.container_id}"
        return run("docker", "-H", bed.socks[n], "ps", "-aq", "--filter", label) + run(
            "docker", "-H", bed.socks[n], "volume", "ls", "-q", "--filter", label
        )

    assert await eventually(lambda: not loopback_left())


async def test_a_drained_node_gets_no_new_sandboxes_and_its_student_moves(swarm: SwarmBed) -> None:
    bed = swarm
    first = await engine.acquire("owner-drain")
    # No reaper pass of the background: one would start the stopped placeholder again, pinned
    # to the drained node (where it waits until the node is active again).
    await engine.stop_background_tasks()
    drained = bed.node_of(engine_of(first.container_id))
    node_id = bed.node_id(drained)
    run("docker", "-H", bed.socks[0], "node", "update", "--availability", "drain", node_id)
    try:
        # Drain stops the placeholder and (restart condition none) puts it nowhere else: the
        # sandbox lives on, without a slot, until its student comes back.
        service = run(
            "docker", "-H", bed.socks[drained], "inspect", "-f",
            '{{index .Config.Labels "muelle.placement"}}', first.container_id,
        )  # fmt: skip

        def placeholder_stopped() -> bool:
            states = run(
                "docker", "-H", bed.socks[0], "service", "ps", "--format", "{{.DesiredState}}",
                service,
            ).split()  # fmt: skip
            return states == ["Shutdown"]

        assert await eventually(placeholder_stopped)
        others = [await engine.acquire(f"owner-after-drain-{i}") for i in range(3)]
        assert drained not in {bed.node_of(engine_of(b.container_id)) for b in others}
        # The student comes back: a new sandbox elsewhere, and the terminal says why.
        again = await engine.acquire("owner-drain")
        assert again.container_id != first.container_id
        assert bed.node_of(engine_of(again.container_id)) != drained
        assert placement.take_move_notice("owner-drain") == placement.drained_message()
        assert await eventually(lambda: not on_node(bed, drained, first.container_id))
    finally:
        run("docker", "-H", bed.socks[0], "node", "update", "--availability", "active", node_id)


async def test_the_terminal_of_a_student_whose_node_died_says_so_and_opens_elsewhere(
    swarm: SwarmBed, settings: Any
) -> None:
    from channels.testing.websocket import WebsocketCommunicator

    from harness.tabs import ORIGIN, Tab, make_session, new_terminal_id
    from sandbox.terminals import get_registry
    from tutorial.asgi import application

    bed = swarm
    session = await make_session()
    tabs: list[Tab] = []

    async def open_tab(terminal_id: str) -> Tab:
        headers = [(b"host", b"127.0.0.1"), (b"origin", ORIGIN)]
        headers.append((b"cookie", f"sessionid={session}".encode()))
        tab = Tab(WebsocketCommunicator(application, f"/ws/terminal/?t={terminal_id}", headers))
        tabs.append(tab)
        connected, _code = await tab.communicator.connect(timeout=10)
        assert connected
        await tab.event("ready", timeout=60)
        return tab

    manager = bed.node_id(0)
    # The manager (node 1) takes no sandbox here: the node killed must not be the only manager.
    run("docker", "-H", bed.socks[0], "node", "update", "--availability", "drain", manager)
    try:
        first = await open_tab(new_terminal_id())
        await first.run("echo hola", "fin-hola")
        rows = [row async for row in SandboxRecord.objects.filter(instance=INSTANCE)]
        assert len(rows) == 1
        first_id = rows[0].container_id
        victim = bed.node_of(engine_of(first_id))
        assert victim in (1, 2)
        # Another student on the same node, who is not in a terminal right now.
        other = None
        for i in range(3):
            box = await engine.acquire(f"owner-kill-{i}")
            if bed.node_of(engine_of(box.container_id)) == victim:
                other = (f"owner-kill-{i}", box)
                break
        assert other is not None
        pid = int((bed.dir / f"node{victim + 1}" / "docker.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        # The open terminal says what happened, in Spanish, and closes.
        ended = await first.event("exit", timeout=60)
        assert ended["reason"] == "killed"
        assert "ha dejado de responder" in ended["message"]
        assert "tendrás uno nuevo en otro servidor" in ended["message"]
        # Connecting again: a new sandbox, on the other live node, told it is a new one.
        second = await open_tab(new_terminal_id())
        assert second.events[0]["fresh"] is True
        assert "nuevo" in (await second.event("notice"))["message"]
        assert b"sigo" in await second.run("echo s''igo", "fin-sigo")
        survivor = 3 - victim  # the worker still alive (node 1 is drained)
        mine = await SandboxRecord.objects.filter(
            instance=INSTANCE, owner=rows[0].owner, state="live"
        ).afirst()
        assert mine is not None and mine.container_id != first_id
        assert bed.node_of(engine_of(mine.container_id)) == survivor
        # The other student: «Comprobar» runs in the sandbox it knows, which is gone, so the
        # check view acquires one, which is new, elsewhere, and the reason is kept for them.
        owner, box = other
        with pytest.raises(engine.SandboxGone):
            await engine.run(box, ["true"])
        again = await engine.acquire(owner)
        assert again.container_id != box.container_id
        assert bed.node_of(engine_of(again.container_id)) == survivor
        assert placement.take_move_notice(owner) == placement.lost_message()
        assert placement.take_move_notice(owner) is None  # said once
        # The lost sandboxes' rows go, and so do their placeholders.
        gone = [first_id, box.container_id]
        assert await eventually(
            lambda: not SandboxRecord.objects.filter(container_id__in=gone).exists()
        )
        live = await SandboxRecord.objects.filter(instance=INSTANCE).acount()
        assert await eventually(lambda: len(placeholders(bed)) == live)
    finally:
        for tab in tabs:
            if not tab.communicator.future.done():
                await tab.hang_up()
        await get_registry().close_all()
        run("docker", "-H", bed.socks[0], "node", "update", "--availability", "active", manager)
