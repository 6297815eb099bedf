"""What the course registry keeps on disk that no tag shows (sandbox/gateway/registry_space.py),
with the real CLI, engine and registry server: a tag pushed again over with new layers counts
in the student's quota until the registry's next collection, and the collection (a restart of
the registry Muelle runs) frees those layers on disk, and waits for exchanges under way."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import course_registry
from sandbox.gateway import lifecycle, registry_space
from sandbox.gateway.config import GatewayConfig
from sandbox.gateway.names import Namespace, student_key
from sandbox.gateway.registry_client import RegistryClient, course_names

from .conftest import IMAGE

pytestmark = pytest.mark.docker

NAME = "registro.muelle"
MiB = 1024 * 1024


@pytest.fixture
def registry_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder: Path = tmp_path_factory.mktemp("registry-space")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    course_registry.start(folder, port)
    try:
        yield folder
    finally:
        course_registry.stop_running(folder)  # whichever server runs now (a collection restarts)


@pytest.fixture
def config(gateway_config: GatewayConfig, registry_folder: Path) -> Iterator[GatewayConfig]:
    port = json.loads((registry_folder / "serve.json").read_text())["port"]
    configured = dataclasses.replace(
        gateway_config,
        registry_address=f"127.0.0.1:{port}",
        registry_username=course_registry.USERNAME,
        registry_password=course_registry.ensure_password(registry_folder),
        registry_max_size=11 * MiB,
        registry_folder=str(registry_folder),
        registry_collect_every=0.0,
    )
    lifecycle.configure(configured)
    yield configured
    lifecycle.configure(None)


def _build(student, tmp_path: Path, tag: str, seed: str) -> None:
    """An image with a 3 MiB layer of its own (random bytes: compression cannot shrink it)."""
    context = tmp_path / seed
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {IMAGE}\nRUN head -c 3145728 /dev/urandom > /grande && echo {seed} > /semilla\n"
    )
    student.ok("build", "-t", tag, str(context), timeout=180)


def _blobs(config: GatewayConfig, student) -> dict[str, int]:
    client = RegistryClient(config)
    return asyncio.run(client.usage(student_key(config.instance, student.owner))).blobs


def _on_disk(folder: Path, digest: str) -> bool:
    hex_digest = digest.partition(":")[2]
    blob = folder / "storage/docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest
    return (blob / "data").is_file()


def test_a_tag_pushed_again_over_counts_until_the_collection_frees_it(
    registry_folder, config, make_student, gateway_loop, tmp_path
):
    student = make_student()
    key = student_key(config.instance, student.owner)
    _build(student, tmp_path, f"{NAME}/app:1", "uno")
    student.ok("push", f"{NAME}/app:1")
    first = _blobs(config, student)
    assert sum(first.values()) > 3 * MiB

    # Again over the same tag with new layers: allowed (about 4 MiB stored, up to 5 MiB more
    # against 11), and the first version's layers now count although no tag shows them.
    _build(student, tmp_path, f"{NAME}/app:1", "dos")
    student.ok("push", f"{NAME}/app:1")
    second = _blobs(config, student)
    left = {digest for digest in first if digest not in second}
    assert left and all(_on_disk(registry_folder, digest) for digest in left)
    assert registry_space.left_behind(key) == sum(first[digest] for digest in left)

    # A third time does not fit: stored, left behind and this image's size pass 11 MiB.
    # Counted by the tags alone (as before), it did, and the disk grew with every push.
    _build(student, tmp_path, f"{NAME}/app:1", "tres")
    error = student.refused("push", f"{NAME}/app:1")
    assert "No cabe en tu espacio del registro del curso" in error
    assert "capas que ya no usa ninguna de tus etiquetas" in error
    assert _blobs(config, student) == second

    # The collection (the reaper's sweep calls it) restarts the registry: the left-behind
    # layers are gone from its disk, the student's tag is still there, and the push now fits.
    old_pid = course_registry.running_pid(registry_folder)
    assert gateway_loop.run(registry_space.collect_if_due(config)) is True
    assert course_registry.running_pid(registry_folder) not in (None, old_pid)
    assert not any(_on_disk(registry_folder, digest) for digest in left)
    assert all(_on_disk(registry_folder, digest) for digest in second)
    assert registry_space.left_behind(key) == 0
    student.ok("push", f"{NAME}/app:1")
    assert _blobs(config, student) != second


def test_a_collection_waits_for_exchanges_and_exchanges_wait_for_it(
    registry_folder, config, make_student, gateway_loop
):
    student = make_student()
    student.ok("tag", IMAGE, f"{NAME}/espera:1")
    registry_space.deleted()  # something to collect
    pid = course_registry.running_pid(registry_folder)

    async def during_an_exchange() -> bool:
        async with registry_space.in_use():
            return await registry_space.collect_if_due(config)

    # An exchange under way: no collection (it would cut a push off).
    assert gateway_loop.run(during_an_exchange()) is False
    assert course_registry.running_pid(registry_folder) == pid

    # A collection under way: a push waits for it, then works against the new server.
    async def push_during_a_collection() -> tuple[bool, int | None]:
        collecting = asyncio.ensure_future(registry_space.collect_if_due(config))
        await asyncio.sleep(0)  # the collection has begun: it holds the registry
        pushed = asyncio.ensure_future(asyncio.to_thread(student.ok, "push", f"{NAME}/espera:1"))
        collected = await collecting
        seen_pid = course_registry.running_pid(registry_folder)
        await pushed
        return collected, seen_pid

    collected, pid_after = gateway_loop.run(push_during_a_collection())
    assert collected is True and pid_after not in (None, pid)
    repository = f"{student_key(config.instance, student.owner)}/espera"
    assert asyncio.run(RegistryClient(config).tags(repository)) == ["1"]


def test_scripts_serve_collects_the_registry_it_finds_running(registry_folder):
    """`python -m sandbox.course_registry start` (scripts/serve) with the registry already up:
    collected and started again before any server of Muelle uses it."""
    import subprocess
    import sys

    port = str(json.loads((registry_folder / "serve.json").read_text())["port"])
    pid = course_registry.running_pid(registry_folder)
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.course_registry", "start", str(registry_folder), port],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert course_registry.running_pid(registry_folder) not in (None, pid)
    password = course_registry.ensure_password(registry_folder)
    assert course_registry.answers(int(port), password)


def test_an_upload_a_push_left_unfinished_counts_until_a_collection_drops_it(
    registry_folder, config, make_student, gateway_loop
):
    """A push cut off leaves its upload in the registry's storage (`_uploads`), whatever the
    image's size on the engine said (an image of empty files is 0 bytes there): it counts in
    the student's quota as it is on disk, and a collection drops it."""
    student = make_student()
    key = student_key(config.instance, student.owner)
    student.ok("tag", IMAGE, f"{NAME}/corte:1")
    # What the registry keeps of an upload cut off: its data under the student's repository.
    upload = (
        registry_folder
        / "storage/docker/registry/v2/repositories"
        / key
        / "corte/_uploads/0b3c6a57-4c1e-4c49-9d59-6d1a0f6c8a11"
    )
    upload.mkdir(parents=True)
    (upload / "data").write_bytes(b"\0" * (12 * MiB))
    assert registry_space.footprint(registry_folder, key) == 12 * MiB
    error = student.refused("push", f"{NAME}/corte:1")
    assert "No cabe en tu espacio del registro del curso: ya ocupas 12 MiB" in error

    registry_space.deleted()  # what the gateway marks when a push fails or is cut off
    assert gateway_loop.run(registry_space.collect_if_due(config)) is True
    assert not upload.exists()
    student.ok("push", f"{NAME}/corte:1")
    assert 0 < registry_space.footprint(registry_folder, key) < 3 * MiB


def test_a_due_collection_holds_new_exchanges_back_until_it_ran(config, gateway_loop):
    """One student asking the registry again and again cannot put a collection off: once it is
    due, new exchanges wait, the ones under way finish, and the next sweep collects."""
    registry_space.deleted()

    async def scenario() -> list[str]:
        seen: list[str] = []
        release = asyncio.Event()

        async def exchange(name: str, hold: asyncio.Event | None) -> None:
            async with registry_space.in_use():
                seen.append(f"{name} dentro")
                if hold is not None:
                    await hold.wait()

        first = asyncio.ensure_future(exchange("primera", release))
        await asyncio.sleep(0.05)
        seen.append(f"recogida {await registry_space.collect_if_due(config)}")
        second = asyncio.ensure_future(exchange("segunda", None))
        await asyncio.sleep(0.3)  # it waits: the collection is due
        release.set()
        await first
        seen.append(f"recogida {await registry_space.collect_if_due(config)}")
        await second
        return seen

    assert gateway_loop.run(scenario()) == [
        "primera dentro",
        "recogida False",
        "recogida True",
        "segunda dentro",
    ]


def test_a_registry_started_through_a_symlink_or_by_an_earlier_version_is_collected(tmp_path):
    """The folder may be reached through a symlink (a linked var/), and a registry started by
    a version before serve.json has none: both are still found, stopped and collected, never
    collected under a live server."""
    import subprocess
    import sys

    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "enlace"
    link.symlink_to(real)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    course_registry.start(link, port)
    try:
        pid = course_registry.running_pid(link)
        assert pid is not None and pid == course_registry.running_pid(real)
        course_registry.restart(link)
        second = course_registry.running_pid(link)
        assert second not in (None, pid)

        (real / "serve.json").unlink()  # as an earlier version left it
        result = subprocess.run(
            [sys.executable, "-m", "sandbox.course_registry", "start", str(link), str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert (real / "serve.json").is_file()
        assert course_registry.running_pid(link) not in (None, second)
        assert course_registry.answers(port, course_registry.ensure_password(real))
    finally:
        course_registry.stop_running(link)


def test_the_registry_log_is_trimmed_by_the_sweep_and_the_server_keeps_writing_it(
    registry_folder, config, gateway_loop
):
    # Every request the registry refuses is a line of its log (a loop of them wrote about 500
    # MiB an hour). Past REGISTRY_LOG_MAX the sweep keeps its last part in registry.log.1 and
    # empties it; the server goes on writing from the start of the emptied file.
    from sandbox.gateway.cleanup import sweep_orphans

    small = dataclasses.replace(config, registry_log_max=64 * 1024)
    lifecycle.configure(small)
    log = registry_folder / course_registry.LOG_NAME
    with open(log, "ab") as out:
        for index in range(20_000):  # about 300 KiB, as if the server had written it
            out.write(b"linea de relleno %d\n" % index)
    gateway_loop.run(sweep_orphans([], small))
    assert log.stat().st_size == 0
    kept = (registry_folder / f"{course_registry.LOG_NAME}.1").read_bytes()
    assert 0 < len(kept) <= 64 * 1024
    assert kept.endswith(b"linea de relleno 19999\n")
    assert kept.startswith(b"linea de relleno ")  # from a line's start

    port = json.loads((registry_folder / "serve.json").read_text())["port"]
    for _ in range(3):  # refused without credentials: one line each
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while conn.recv(4096):
                pass
    written = _until(lambda: log.read_bytes(), lambda data: data.count(b"\n") >= 3)
    assert written.startswith(b"time="), written[:80]  # no hole of the old size before it
    assert b"\0" not in written
    assert len(written) < 64 * 1024

    # Under the limit, nothing moves.
    gateway_loop.run(sweep_orphans([], small))
    assert log.read_bytes().startswith(written)


def _until(read: Callable[[], bytes], done: Callable[[bytes], bool], tries: int = 100) -> bytes:
    for _ in range(tries):
        value = read()
        if done(value):
            return value
        time.sleep(0.05)
    return read()


def test_a_push_that_uploads_past_the_quota_is_cut_off(
    registry_folder, config, make_student, gateway_loop, tmp_path
):
    # 60,000 empty files with long random names: nothing on the engine (the image weighs what
    # its base does, about 2 MiB, so the check before the push lets it through), but each file
    # is a tar header in the upload: about 8.6 MiB reach the registry.
    limit = 4 * MiB
    small = dataclasses.replace(config, registry_max_size=limit)
    lifecycle.configure(small)
    student = make_student()
    key = student_key(config.instance, student.owner)
    context = tmp_path / "muchos"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {IMAGE}\n"
        'RUN mkdir /d && cd /d && awk \'BEGIN{srand(11); for(i=0;i<60000;i++){s=""; '
        'for(j=0;j<28;j++) s=s sprintf("%08x", int(rand()*4294967296)); print s}}\' '
        "| xargs touch\n"
    )
    student.ok("build", "-t", f"{NAME}/muchos:1", str(context), timeout=300)
    size = int(student.ok("image", "inspect", "-f", "{{.Size}}", f"{NAME}/muchos:1"))
    assert size < limit

    error = student.refused("push", f"{NAME}/muchos:1", timeout=300)
    assert "La subida se ha cortado" in error, error
    # Cut off within the quota and what the engine sent in one measuring interval (a few
    # MiB/s here); not the whole 8.6 MiB.
    on_disk = registry_space.footprint(registry_folder, key)
    assert limit < on_disk < limit + 2 * MiB, on_disk
    # No tag: the engine's push ended with its connection, before its manifest.
    assert _blobs(small, student) == {}
    assert (
        not RegistryClient(small).configured
        or not asyncio.run(RegistryClient(small).usage(key)).tags
    )

    # What it left counts until the collection, which drops it.
    again = student.refused("push", f"{NAME}/muchos:1")
    assert "No cabe en tu espacio del registro del curso" in again, again
    assert gateway_loop.run(registry_space.collect_if_due(small)) is True
    assert registry_space.footprint(registry_folder, key) == 0


def test_a_log_that_cannot_be_copied_is_emptied_all_the_same(registry_folder, config, gateway_loop):
    # A full disk is when the trim matters most, and then the copy fails: the log is emptied
    # anyway (here the copy cannot take its place: a folder that is not empty stands there).
    from sandbox.gateway.cleanup import sweep_orphans

    small = dataclasses.replace(config, registry_log_max=64 * 1024)
    lifecycle.configure(small)
    log = registry_folder / course_registry.LOG_NAME
    in_the_way = registry_folder / f"{course_registry.LOG_NAME}.1"
    in_the_way.mkdir()
    (in_the_way / "algo").touch()
    log.write_bytes(b"linea\n" * 50_000)
    gateway_loop.run(sweep_orphans([], small))
    assert log.stat().st_size == 0
    # And the copy that could not take its place is not left behind.
    assert sorted(p.name for p in registry_folder.glob(".registry.log*")) == []


def test_a_push_does_not_name_another_students_repository(registry_folder, config, make_student):
    # The engine mounts a layer it pushed before from whichever repository of the registry has
    # it, and says which: "Mounted from <key>/<repository>", another student's.
    beto, ana = make_student(), make_student()
    beto.ok("tag", IMAGE, f"{NAME}/beto-examen-final:1")
    beto.ok("push", f"{NAME}/beto-examen-final:1")
    ana.ok("tag", IMAGE, f"{NAME}/mia:1")
    out = ana.ok("push", f"{NAME}/mia:1")
    beto_key = student_key(config.instance, beto.owner)
    assert beto_key not in out and "beto-examen-final" not in out, out
    # Not even that someone had that layer: a mount from another student's repository reads
    # as a layer pushed (here every layer was beto's first).
    assert "Mounted" not in out and "Pushed" in out, out
    rewrite = course_names(config, Namespace(ana.owner, config.instance))
    engine_says = b'{"status":"Mounted from %s/beto-examen-final","id":"383d9e9e1d79"}'
    assert rewrite(engine_says % beto_key.encode()) == b'{"status":"Pushed","id":"383d9e9e1d79"}'


def test_a_students_emptied_repositories_leave_the_catalog_at_the_collection(
    registry_folder, config, make_student
):
    # Every push, pull and search reads the whole catalog: a repository whose images were all
    # deleted (the student's objects gone) stayed in it for ever, one more for each sandbox.
    gone, kept = make_student(), make_student()
    gone.ok("tag", IMAGE, f"{NAME}/app:1")
    gone.ok("tag", IMAGE, f"{NAME}/otra/app:1")
    gone.ok("push", f"{NAME}/app:1")
    gone.ok("push", f"{NAME}/otra/app:1")
    kept.ok("tag", IMAGE, f"{NAME}/app:1")
    kept.ok("push", f"{NAME}/app:1")
    client = RegistryClient(config)
    gone_key = student_key(config.instance, gone.owner)
    kept_key = student_key(config.instance, kept.owner)
    assert asyncio.run(client.delete_student(gone_key)) == 2
    course_registry.restart(registry_folder)
    assert asyncio.run(client.all_repositories()) == [f"{kept_key}/app"]
    repositories = registry_folder / "storage/docker/registry/v2/repositories"
    assert sorted(p.name for p in repositories.iterdir()) == [kept_key]
    kept.ok("rmi", f"{NAME}/app:1")
    kept.ok("pull", f"{NAME}/app:1")  # what stays is whole
