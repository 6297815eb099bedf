"""`docker` inside a student's sandbox talks to their own gateway, never to the engine: it runs
the course's images, it cannot reach the engine's socket, and when the sandbox ends whatever the
student created goes with it."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import engine, pool, reaper
from sandbox.gateway import lifecycle
from sandbox.gateway.student import Student
from sandbox.gateway.upstream import Upstream
from sandbox.models import SandboxRecord
from tests.compose_project import COMPOSE as COMPOSE_PROJECT

from .conftest import GATEWAY_DIR, eventually, inspect, wait_gone

pytestmark = pytest.mark.docker

GREETING = "¡Hola desde Muelle!"


async def sh(sandbox: engine.Sandbox, script: str, timeout: float = 90) -> engine.RunResult:
    return await engine.run(sandbox, ["bash", "-c", script], timeout=timeout)


async def engine_objects(owner: str) -> dict[str, list[Any]]:
    """What the real engine holds for `owner` (by the labels and name prefix the gateway uses)."""
    config = lifecycle.current_config()
    upstream = Upstream(config.engine_socket)
    student = Student(owner, config, upstream)
    return {
        "containers": await student.containers(),
        "volumes": await student.volumes(),
        "networks": await student.networks(),
        "images": [
            image
            for visibility, image in await student.image_summaries(all_layers=True)
            if visibility == "own"
        ],
    }


async def make_one_of_each(sandbox: engine.Sandbox) -> None:
    result = await sh(
        sandbox,
        "set -e; docker run -d --name web -v datos:/datos muelle/busybox sleep 300; "
        "docker network create red; docker volume create otro; docker tag muelle/busybox mio; "
        "mkdir -p ~/app; printf 'FROM muelle/busybox\\nRUN echo hecho > /hecho\\n' "
        "> ~/app/Dockerfile; docker build -q -t app ~/app",
        timeout=120,
    )
    assert result.exit_code == 0, result.output.decode()
    objects = await engine_objects(sandbox.owner)
    assert all(objects[kind] for kind in ("containers", "volumes", "networks", "images")), objects


async def test_a_student_runs_the_course_hello_image_from_their_sandbox() -> None:
    sandbox = await engine.acquire("owner-docker-hola")
    result = await sh(sandbox, "docker run --rm muelle/hola")
    assert result.exit_code == 0, result.output.decode()
    assert GREETING in result.output.decode()
    # --rm: nothing is left, and the student sees only their own (empty) list.
    listed = await sh(sandbox, "docker ps -a --format '{{.Names}}'")
    assert (listed.exit_code, listed.output) == (0, b"")


async def test_the_sandbox_sees_its_gateway_and_never_the_engine_socket() -> None:
    sandbox = await engine.acquire("owner-docker-socket")
    result = await sh(
        sandbox,
        "for s in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do "
        "  test -e $s && echo present:$s; done; "
        "ls -A /run/muelle; "
        "touch /run/muelle/x 2>/dev/null || echo read-only; "
        "grep -c ' /run/muelle ' /proc/self/mountinfo; "
        "grep ' /run/muelle ' /proc/self/mountinfo | grep -o ' ro,' ; "
        "DOCKER_HOST=unix:///var/run/docker.sock docker ps 2>&1 | tail -1; "
        "docker info --format '{{.Name}}'",
    )
    lines = result.output.decode().splitlines()
    assert not [line for line in lines if line.startswith("present:")]
    assert lines[0] == "docker.sock"
    assert lines[1] == "read-only"
    assert lines[2] == "1"
    assert lines[3] == " ro,"
    assert "docker.sock" in lines[4] and ("no such file" in lines[4] or "connect" in lines[4])
    assert "muelle" in lines[5].lower()  # the gateway's own answer, not the host's name


async def test_release_removes_everything_the_student_created() -> None:
    sandbox = await engine.acquire("owner-docker-release")
    folder = GATEWAY_DIR / inspect(sandbox.container_id)["Config"]["Labels"]["muelle.gateway"]
    await make_one_of_each(sandbox)

    await engine.release(sandbox)

    assert await wait_gone(sandbox.container_id)
    assert await engine_objects(sandbox.owner) == {
        "containers": [],
        "volumes": [],
        "networks": [],
        "images": [],
    }
    assert not folder.exists()
    assert "owner-docker-release" not in lifecycle.open_owners()
    # The course images everyone shares are still there.
    assert engine.image_id("muelle/busybox:latest")


async def test_a_warm_container_gets_its_students_gateway_when_handed_out(settings) -> None:
    settings.SANDBOX_WARM_POOL = 1
    assert await pool.fill_once() == 1
    (warm,) = [
        cid
        async for cid in SandboxRecord.objects.filter(state=SandboxRecord.State.POOL).values_list(
            "container_id", flat=True
        )
    ]
    reserved = GATEWAY_DIR / inspect(warm)["Config"]["Labels"]["muelle.gateway"]
    assert reserved.is_dir() and not any(reserved.iterdir())  # nobody is served there yet

    sandbox = await engine.acquire("owner-docker-warm")

    assert sandbox.container_id == warm
    assert sorted(p.name for p in reserved.iterdir()) == ["docker.sock"]
    result = await sh(sandbox, "docker run --rm muelle/hola")
    assert GREETING in result.output.decode(), result.output.decode()
    await engine.release(sandbox)
    assert await wait_gone(warm)
    assert not reserved.exists()


async def test_a_warm_container_removed_unassigned_leaves_no_folder(settings) -> None:
    settings.SANDBOX_WARM_POOL = 1
    assert await pool.fill_once() == 1
    row = await SandboxRecord.objects.aget(state=SandboxRecord.State.POOL)
    reserved = GATEWAY_DIR / inspect(row.container_id)["Config"]["Labels"]["muelle.gateway"]
    await engine.remove_now(row.container_id)
    assert not reserved.exists()


async def test_after_a_crash_the_reaper_removes_what_the_student_left() -> None:
    sandbox = await engine.acquire("owner-docker-crash")
    folder = GATEWAY_DIR / inspect(sandbox.container_id)["Config"]["Labels"]["muelle.gateway"]
    await make_one_of_each(sandbox)
    # A crash: the gateway is gone without cleaning up, the sandbox is removed by hand and its
    # row forgotten; the engine still holds the student's objects and the folder is still here.
    await lifecycle.close_all(cleanup=False)
    engine.call_sync(lambda api: api.remove_container(sandbox.container_id, force=True))
    await SandboxRecord.objects.filter(container_id=sandbox.container_id).adelete()
    assert (await engine_objects(sandbox.owner))["containers"]

    report = await reaper.reap(orphan_grace=0)

    assert sandbox.owner in report.students_cleaned
    assert folder.name in report.folders_removed
    assert await eventually(lambda: _nothing_left(sandbox.owner))
    assert not folder.exists()


async def _nothing_left(owner: str) -> bool:
    return not any((await engine_objects(owner)).values())


async def test_docker_compose_runs_a_project_from_the_students_work_dir(settings) -> None:
    sandbox = await engine.acquire("owner-docker-compose")
    version = await sh(sandbox, "docker-compose version")
    assert version.exit_code == 0, version.output.decode()
    assert "docker-compose version 1." in version.output.decode()
    assert "docker-py version" in version.output.decode()

    project = f"{settings.SANDBOX_WORKDIR}/proyecto"
    written = await engine.run(
        sandbox,
        ["sh", "-c", f"mkdir -p {project} && cat > {project}/docker-compose.yml"],
        stdin=COMPOSE_PROJECT.encode(),
    )
    assert written.exit_code == 0, written.output.decode()

    async def compose(args: str) -> str:
        result = await sh(sandbox, f"cd {project} && docker-compose {args}", timeout=120)
        assert result.exit_code == 0, (args, result.output.decode())
        return result.output.decode()

    await compose("up -d")
    listed = await compose("ps")
    assert "proyecto_web_1" in listed and "proyecto_cliente_1" in listed
    assert listed.count(" Up ") == 2, listed
    # The services reach each other by name on the project's (internal) network.
    page = await compose(
        "exec -T cliente sh -c 'until [ -s /tmp/pagina ]; do sleep 0.2; done; cat /tmp/pagina'"
    )
    assert "¡Funciona!" in page
    objects = await engine_objects(sandbox.owner)
    assert len(objects["containers"]) == 2 and objects["networks"] and objects["volumes"], objects

    await compose("logs web")
    await compose("down -v")
    assert await compose("ps -q") == ""
    assert await engine_objects(sandbox.owner) == {
        "containers": [],
        "volumes": [],
        "networks": [],
        "images": [],
    }
