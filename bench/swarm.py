"""Sandboxes on a Swarm (SANDBOX_PLACEMENT=swarm) with 1 node and with 3 nodes, on this machine's
3-node test bed (deploy/swarm/testbed.sh; root, about 3 minutes). Prints:

- sandboxes started per second, one after another (sandboxes.create: placeholder service,
  Swarm's assignment, hardened create+start on the node, row), beside the raw reference measured
  in the same run: the same engine's hardened create+start straight through the SDK;
- a burst of --burst students at once: sandbox ready (create returned and an `echo` in it
  answered) p95, beside the raw burst (the same number of raw create+start+exec at once);
- per-node memory overhead: RSS of each node's dockerd + containerd, idle, and the memory of an
  idle sandbox (its cgroup's usage + its containerd-shim), for the capacity model in
  docs/despliegue.md.

"1 node" is the same Swarm with nodes 2 and 3 drained, so both figures share one bed.

    sudo .venv/bin/python bench/swarm.py [--runs 10] [--burst 30]

Everything it starts is removed, the test bed included, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import configure_django, percentile, whole_number_options  # noqa: E402
from harness.swarm_bed import load_images, run, swarm_bed  # noqa: E402

IMAGE = "muelle/sandbox:latest"
GATEWAY_DIR = Path(f"/tmp/muelle-bsw-{os.getpid()}")  # noqa: S108 (short: socket paths)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def node_overhead_mib(folder: Path, n: int) -> float:
    """dockerd + the containerd it started, RSS."""
    dockerd = int((folder / f"node{n}" / "docker.pid").read_text())
    containerd = [
        c for c in children(dockerd) if Path(f"/proc/{c}/comm").read_text().strip() == "containerd"
    ]
    return (rss_kib(dockerd) + sum(rss_kib(c) for c in containerd)) / 1024


def sandbox_memory_mib(containers: list[tuple[str, str]]) -> list[float]:
    """Per idle sandbox (engine, id): its memory cgroup's usage (cgroup v1, found from its init
    process) plus the RSS of its containerd-shim."""
    from sandbox.docker_api.client import call_on_sync

    shims: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and b"-id" in argv:
                shims[argv[argv.index(b"-id") + 1].decode()] = int(proc.name)
    figures = []
    for address, cid in containers:
        pid = call_on_sync(address, lambda api, c=cid: api.inspect_container(c)["State"]["Pid"])
        with contextlib.suppress(OSError, StopIteration):
            cgroup = next(
                row.split(":", 2)[2]
                for row in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                if row.split(":", 2)[1] == "memory"
            )
            usage = int(Path(f"/sys/fs/cgroup/memory{cgroup}/memory.usage_in_bytes").read_text())
            shim = shims.get(cid)
            figures.append((usage / 1024 + (rss_kib(shim) if shim else 0)) / 1024)
    return figures


def swarm_task_ids(api: object) -> list[str]:
    found = api.containers(filters={"label": "com.docker.swarm.service.name"})  # type: ignore[attr-defined]
    return [str(c["Id"]) for c in found]


def line(name: str, value: str, reference: str) -> None:
    print(f"{name:<44} {value:<28} raw reference: {reference}", flush=True)


def main(args: argparse.Namespace) -> None:
    tag = f"b{os.getpid() % 10000}"
    folder = Path(tempfile.mkdtemp(prefix="muelle-swarm-", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="muelle-bench-swarm-"))
    try:
        t0 = time.monotonic()
        with swarm_bed(folder, tag, slots=args.burst + 10) as bed:
            up = time.monotonic() - t0
            try:
                print(f"test bed up in {up:.1f} s (3 dockerd, swarm init + 2 joins)", flush=True)
                # Measured before the image is loaded: what an idle node costs.
                idle = [node_overhead_mib(folder, n) for n in (1, 2, 3)]
                load_images(bed, [IMAGE])

                # The gateway's clean-up warns about the course registry this bench does not run.
                os.environ.setdefault("LOG_LEVEL", "ERROR")
                configure_django(
                    work / "db.sqlite3",
                    f"bench-swarm-{os.getpid()}",
                    **bed.muelle_settings(),  # placement on the bed, over mutual TLS
                    SANDBOX_WARM_POOL="0",
                    SANDBOX_MAX_LIVE="500",
                    SANDBOX_DOCKER_THREADS=str(args.burst + 4),
                    DOCKER_GATEWAY_SOCKET_DIR=str(GATEWAY_DIR),
                )
                asyncio.run(measure(args, tag, folder, bed.socks, bed.engines, idle))
            finally:
                with contextlib.suppress(Exception):
                    asyncio.run(_remove_sandboxes())
    finally:
        subprocess.run(["rm", "-rf", str(work), str(GATEWAY_DIR)], check=False)


async def _remove_sandboxes() -> None:
    from sandbox import engine, sandboxes

    for box in await engine.list_managed():
        await sandboxes.remove_now(box.container_id)
    await engine.stop_background_tasks()


async def measure(  # noqa: PLR0915 (one measured story)
    args: argparse.Namespace,
    tag: str,
    folder: Path,
    socks: list[str],
    engines: list[str],
    idle: list[float],
) -> None:
    made: list[tuple[str, str]] = []  # (engine, container) of the raw reference
    from bench.common import raw_spec
    from sandbox import engine, sandboxes
    from sandbox.docker_api import containers as docker_containers
    from sandbox.docker_api.client import call_on_sync, engine_of

    def raw_start(address: str) -> str:
        cid, _shell = call_on_sync(address, docker_containers.create_and_start, raw_spec(), set())
        made.append((address, cid))
        return cid

    def raw_ready(address: str) -> float:
        start = time.monotonic()
        cid = raw_start(address)
        call_on_sync(address, lambda api: api.exec_start(api.exec_create(cid, ["echo", "x"])))
        return time.monotonic() - start

    def raw_clear() -> None:
        while made:
            address, cid = made.pop()
            with contextlib.suppress(Exception):
                call_on_sync(address, lambda api, c=cid: api.remove_container(c, force=True))

    async def create(i: int) -> engine.Sandbox:
        return await sandboxes.create(owner=f"bench-{i}", session=f"s-{i}", pool=False)

    async def ready(i: int, start: float) -> float:
        box = await create(i)
        await engine.run(box, ["echo", "x"])
        return time.monotonic() - start

    async def clear() -> None:
        for box in await engine.list_managed():
            await sandboxes.remove_now(box.container_id)

    node_ids = [run("docker", "-H", s, "info", "-f", "{{.Swarm.NodeID}}") for s in socks]

    def availability(nodes: list[int], value: str) -> None:
        for n in nodes:
            run("docker", "-H", socks[0], "node", "update", "--availability", value, node_ids[n])

    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=args.burst)
    print(f"\n{'':<44} {'Muelle on the Swarm':<28} (same run)")
    for label, nodes in (("1 node", [0]), ("3 nodes", [0, 1, 2])):
        availability([n for n in (1, 2) if n not in nodes], "drain")
        availability([n for n in nodes if n], "active")
        # Sequential starts.
        t = time.monotonic()
        for i in range(args.runs):
            await loop.run_in_executor(pool, raw_start, engines[nodes[i % len(nodes)]])
        raw_rate = args.runs / (time.monotonic() - t)
        raw_clear()
        t = time.monotonic()
        boxes = [await create(i) for i in range(args.runs)]
        rate = args.runs / (time.monotonic() - t)
        spread = sorted({engines.index(engine_of(b.container_id) or "") + 1 for b in boxes})
        await clear()
        line(
            f"{label}: sandboxes started per second",
            f"{rate:6.2f}/s (nodes used {spread})",
            f"{raw_rate:6.2f}/s hardened create+start",
        )
        # A burst of students at once.
        start = time.monotonic()
        raw = await asyncio.gather(
            *(
                loop.run_in_executor(pool, raw_ready, engines[nodes[i % len(nodes)]])
                for i in range(args.burst)
            )
        )
        raw_clear()
        start = time.monotonic()
        times = await asyncio.gather(*(ready(1000 + i, start) for i in range(args.burst)))
        line(
            f"{label}: burst of {args.burst}, sandbox ready p95",
            f"{percentile(times, 0.95) * 1000:7.0f} ms (median "
            f"{statistics.median(times) * 1000:.0f})",
            f"{percentile(raw, 0.95) * 1000:7.0f} ms create+start+exec",
        )
        if label == "3 nodes":
            boxes = [
                (engine_of(box.container_id) or "", box.container_id)
                for box in await engine.list_managed()
            ]
            memory = await loop.run_in_executor(pool, sandbox_memory_mib, boxes)
            tasks = [
                (address, cid)
                for address in engines
                for cid in call_on_sync(address, swarm_task_ids)
            ]
            placeholder_memory = await loop.run_in_executor(pool, sandbox_memory_mib, tasks)
            loaded = [node_overhead_mib(folder, n) for n in (1, 2, 3)]
        await clear()
    availability([1, 2], "active")
    print()
    print(
        "per-node overhead, idle (dockerd + containerd RSS): "
        + ", ".join(f"{m:.0f} MiB" for m in idle)
    )
    print(
        f"per-node dockerd + containerd RSS with the {args.burst} sandboxes of the burst up: "
        + ", ".join(f"{m:.0f} MiB" for m in loaded)
    )
    if memory:
        print(
            f"idle sandbox (cgroup usage + shim RSS), n={len(memory)}: median "
            f"{statistics.median(memory):.1f} MiB, max {max(memory):.1f} MiB"
        )
    if placeholder_memory:
        print(
            f"placeholder task (cgroup usage + shim RSS), n={len(placeholder_memory)}: "
            f"median {statistics.median(placeholder_memory):.1f} MiB, "
            f"max {max(placeholder_memory):.1f} MiB"
        )
    print(f"cores on this machine: {os.cpu_count()} (shared with the rest of the machine)")


if __name__ == "__main__":
    main(whole_number_options(__doc__, runs=10, burst=30))
