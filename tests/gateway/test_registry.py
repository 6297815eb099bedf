"""The course registry through the gateway, with the real CLI, engine and registry server
(Debian's docker-registry on a free loopback port, started here and stopped after)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import course_registry
from sandbox.gateway import handlers_registry, lifecycle
from sandbox.gateway.config import GatewayConfig
from sandbox.gateway.names import student_key
from sandbox.gateway.registry_client import RegistryClient

from .conftest import IMAGE
from .listener import host_listener

pytestmark = pytest.mark.docker

NAME = "registro.muelle"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Registry:
    port: int
    password: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    folder: Path = tmp_path_factory.mktemp("registry")
    port = _free_port()
    process = course_registry.start(folder, port)
    try:
        yield Registry(port, course_registry.ensure_password(folder))
    finally:
        course_registry.stop(process)


def _with_registry(config: GatewayConfig, registry: Registry, **changes: object) -> GatewayConfig:
    return dataclasses.replace(
        config,
        registry_address=registry.address,
        registry_username=course_registry.USERNAME,
        registry_password=registry.password,
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def _registry_config(
    _gateway_config_for_this_test: None, gateway_config: GatewayConfig, registry: Registry
) -> Iterator[GatewayConfig]:
    config = _with_registry(gateway_config, registry)
    lifecycle.configure(config)
    yield config
    lifecycle.configure(None)


def _remote_tags(config: GatewayConfig, student) -> dict[str, list[str]]:
    """What the real registry holds under the student's key (repository -> tags)."""
    from sandbox.gateway.names import student_key

    client = RegistryClient(config)
    key = student_key(config.instance, student.owner)

    async def read() -> dict[str, list[str]]:
        out = {}
        for repository in await client.repositories(key):
            tags = await client.tags(repository)
            if tags:
                out[repository.partition("/")[2]] = sorted(tags)
        return out

    return asyncio.run(read())


def _engine_names_with(address: str) -> list[str]:
    """Every tag or digest on the engine that names the real registry address."""
    import subprocess

    out = subprocess.run(
        ["docker", "images", "--digests", "--format", "{{.Repository}}:{{.Tag}}@{{.Digest}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line.startswith(address + "/")]


def test_push_then_pull_on_a_clean_state(student, _registry_config, registry):
    student.ok("tag", IMAGE, f"{NAME}/app:1")
    out = student.ok("push", f"{NAME}/app:1")
    assert f"The push refers to repository [{NAME}/app]" in out
    assert "1: digest: sha256:" in out
    assert registry.address not in out and student.owner not in out
    assert _remote_tags(_registry_config, student) == {"app": ["1"]}
    assert _engine_names_with(registry.address) == []

    student.ok("rmi", f"{NAME}/app:1")
    assert f"{NAME}/app" not in student.ok("images")
    out = student.ok("pull", f"{NAME}/app:1")
    assert f"Downloaded newer image for {NAME}/app:1" in out or "up to date" in out
    assert registry.address not in out
    listed = student.ok("images", "--format", "{{.Repository}}:{{.Tag}}", f"{NAME}/app")
    assert listed == f"{NAME}/app:1\n"
    assert student.ok("run", "--rm", f"{NAME}/app:1", "echo", "desde el registro") == (
        "desde el registro\n"
    )
    assert _engine_names_with(registry.address) == []


def test_a_built_image_round_trips_after_it_is_removed(student, _registry_config, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo hecho > /marca\n")
    student.ok("build", "-t", f"{NAME}/hecha:2", str(tmp_path), timeout=180)
    student.ok("push", f"{NAME}/hecha:2")
    student.ok("rmi", f"{NAME}/hecha:2")
    assert student.refused("run", "--rm", "--pull", "never", f"{NAME}/hecha:2", "true")
    # `docker run` pulls what is missing, from the student's namespace.
    out = student.docker("run", "--rm", f"{NAME}/hecha:2", "cat", "/marca")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hecho\n"


def test_another_students_image_is_not_found(student, other_student, _registry_config):
    student.ok("tag", IMAGE, f"{NAME}/secreto:1")
    student.ok("push", f"{NAME}/secreto:1")
    error = other_student.refused("pull", f"{NAME}/secreto:1")
    assert "No existe «registro.muelle/secreto:1» en el registro del curso" in error
    assert other_student.ok("search", f"{NAME}/").splitlines()[1:] == []  # the header only
    mine = student.ok("search", f"{NAME}/")
    assert f"{NAME}/secreto" in mine and "etiquetas: 1" in mine
    # Spelling the real address or the other student's key reaches nothing either.
    from sandbox.gateway.names import student_key

    key = student_key(_registry_config.instance, student.owner)
    error = other_student.refused("pull", f"{NAME}/{key}/secreto:1")
    assert "No existe" in error
    error = other_student.refused("pull", f"{_registry_config.registry_address}/{key}/secreto:1")
    assert "nunca de otros registros" in error
    assert _remote_tags(_registry_config, other_student) == {}


def test_quota_on_the_number_of_pushed_images(make_student, _registry_config):
    # A gateway keeps the configuration it was opened with: change it before the student.
    lifecycle.configure(dataclasses.replace(_registry_config, registry_max_images=1))
    student = make_student()
    student.ok("tag", IMAGE, f"{NAME}/uno:1")
    student.ok("tag", IMAGE, f"{NAME}/uno:2")
    student.ok("push", f"{NAME}/uno:1")
    student.ok("push", f"{NAME}/uno:1")  # pushing the same tag again takes no more room
    error = student.refused("push", f"{NAME}/uno:2")
    assert "el máximo es 1" in error
    assert _remote_tags(_registry_config, student) == {"uno": ["1"]}


def test_quota_on_the_size_of_pushed_images(make_student, _registry_config):
    lifecycle.configure(dataclasses.replace(_registry_config, registry_max_size=512 * 1024))
    student = make_student()
    student.ok("tag", IMAGE, f"{NAME}/grande:1")
    error = student.refused("push", f"{NAME}/grande:1")
    assert "No cabe en tu espacio del registro del curso" in error
    assert "el máximo es 0 MiB" in error or "el máximo es 1 MiB" in error
    assert _remote_tags(_registry_config, student) == {}


async def _take_push_turn(key: str) -> asyncio.Lock:
    """The student's turn for pushes and pulls, taken as another push of theirs would hold it."""
    lock = asyncio.Lock()
    handlers_registry._LOCKS[key] = lock
    await lock.acquire()
    return lock


async def _until_someone_waits(lock: asyncio.Lock) -> None:
    while not getattr(lock, "_waiters", None):
        await asyncio.sleep(0.01)


async def _give_back(lock: asyncio.Lock) -> None:
    lock.release()


def test_a_tag_moved_while_the_push_waits_for_its_turn_changes_nothing(
    make_student, _registry_config, gateway_loop, tmp_path
):
    # The attack review's race: the size was checked for the image the name meant before the
    # push's turn came, and the name was pushed as it was after (here 20 MiB past 16).
    lifecycle.configure(dataclasses.replace(_registry_config, registry_max_size=16 * 1024 * 1024))
    student = make_student()
    (tmp_path / "Dockerfile").write_text(
        f"FROM {IMAGE}\nRUN head -c 20971520 /dev/urandom > /grande\n"
    )
    student.ok("build", "-q", "-t", f"{NAME}/grande:1", str(tmp_path), timeout=240)
    student.ok("tag", IMAGE, f"{NAME}/x:1")
    small = student.ok("image", "inspect", "-f", "{{.Id}}", IMAGE).strip()
    turn = gateway_loop.run(_take_push_turn(student_key(_registry_config.instance, student.owner)))
    pushed: list[subprocess.CompletedProcess[str]] = []
    pushing = threading.Thread(
        target=lambda: pushed.append(student.docker("push", f"{NAME}/x:1", timeout=240))
    )
    pushing.start()
    try:
        gateway_loop.run(_until_someone_waits(turn))
        student.ok("tag", f"{NAME}/grande:1", f"{NAME}/x:1")
    finally:
        gateway_loop.run(_give_back(turn))
        pushing.join()
    # Checked and pushed is the same image: the one the name means when the push's turn comes.
    assert pushed[0].returncode != 0
    assert "No cabe en tu espacio del registro del curso" in pushed[0].stderr
    assert _remote_tags(_registry_config, student) == {}
    student.ok("tag", IMAGE, f"{NAME}/x:1")
    student.ok("push", f"{NAME}/x:1")
    student.ok("rmi", f"{NAME}/x:1")
    student.ok("pull", f"{NAME}/x:1")
    assert student.ok("image", "inspect", "-f", "{{.Id}}", f"{NAME}/x:1").strip() == small


def test_push_to_any_other_registry_is_refused(student):
    with host_listener("127.0.0.1") as listener:
        error = student.refused("push", f"127.0.0.1:{listener.port}/robada:1")
        assert "Muelle no permite esta operación de Docker" in error
        error = student.refused("tag", IMAGE, f"127.0.0.1:{listener.port}/robada:1")
        assert f"solo se sube al registro del curso, {NAME}" in error
        student.ok("tag", IMAGE, "mia:1")
        error = student.refused("push", "mia:1")  # Docker Hub
        assert "Muelle no permite esta operación de Docker" in error
        error = student.refused("pull", f"127.0.0.1:{listener.port}/robada:1")
        assert "nunca de otros registros" in error
    assert listener.connections == []


def test_login_and_logout_need_nothing_real(student, _registry_config):
    out = student.ok("login", NAME, "-u", "ana", "--password-stdin", input="cualquiera\n")
    assert "Login Succeeded" in out
    # The CLI now sends ana's credentials with every push; the registry would refuse them, so
    # the push working proves the engine got Muelle's instead.
    config = json.loads((student.home / ".docker" / "config.json").read_text())
    assert NAME in config["auths"]
    student.ok("tag", IMAGE, f"{NAME}/con-login:1")
    student.ok("push", f"{NAME}/con-login:1")
    assert _remote_tags(_registry_config, student) == {"con-login": ["1"]}
    student.ok("logout", NAME)
    error = student.refused("login", "docker.io", "-u", "ana", "--password-stdin", input="x\n")
    assert f"solo hay un registro, el del curso: {NAME}" in error


def test_a_registry_that_is_down_is_explained_and_the_rest_works(make_student, gateway_config):
    down = dataclasses.replace(
        gateway_config,
        registry_address=f"127.0.0.1:{_free_port()}",
        registry_username="muelle",
        registry_password="x",  # noqa: S106 - nothing answers on that port
    )
    lifecycle.configure(down)
    student = make_student()
    student.ok("tag", IMAGE, f"{NAME}/app:1")
    error = student.refused("push", f"{NAME}/app:1")
    assert "El registro del curso no responde ahora mismo" in error
    error = student.refused("pull", f"{NAME}/otra:1")
    assert "El registro del curso no responde ahora mismo" in error
    assert "no responde" in student.refused("search", f"{NAME}/")
    assert student.ok("run", "--rm", IMAGE, "echo", "sigue") == "sigue\n"
    assert f"{NAME}/app" in student.ok("images")


def test_pushed_images_go_with_the_students_objects(make_student, _registry_config, gateway_loop):
    student = make_student()
    student.ok("tag", IMAGE, f"{NAME}/efimera:1")
    student.ok("push", f"{NAME}/efimera:1")
    assert _remote_tags(_registry_config, student) == {"efimera": ["1"]}
    gateway_loop.run(lifecycle.close_gateway(student.owner, cleanup=True))
    assert _remote_tags(_registry_config, student) == {}


def test_the_progress_stream_never_shows_the_real_address(student, registry):
    student.ok("tag", IMAGE, f"{NAME}/flujo:1")
    raw_status, raw = student.raw("POST", f"/v1.41/images/{NAME}/flujo/push?tag=1")
    assert raw_status == 200
    text = raw if isinstance(raw, str) else json.dumps(raw)
    assert registry.address not in text and "127.0.0.1" not in text
    assert f"{NAME}/flujo" in text


def test_the_real_name_on_a_course_image_is_hidden_from_students(student, registry):
    # What a push or pull of a course image leaves for its length: a real-address tag on it.
    real = f"{registry.address}/0000aaaabbbbcc/app:1"
    _direct("tag", IMAGE, real)
    try:
        assert registry.address not in student.ok("images", "-a")
        assert registry.address not in student.ok("image", "inspect", IMAGE)
    finally:
        _direct("rmi", real)


def test_the_reaper_deletes_what_orphaned_students_pushed(make_student, _registry_config):
    from sandbox.gateway.cleanup import sweep_orphans

    student = make_student()
    student.ok("tag", IMAGE, f"{NAME}/huerfana:1")
    student.ok("push", f"{NAME}/huerfana:1")
    # A crash: the gateway goes without cleaning; the registry still has the image.
    student.loop.run(lifecycle.close_gateway(student.owner, cleanup=False))
    assert _remote_tags(_registry_config, student) == {"huerfana": ["1"]}
    student.loop.run(sweep_orphans([], _registry_config))
    assert _remote_tags(_registry_config, student) == {}


def _direct(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return result.stdout


def test_push_all_tags_and_a_missing_tag(student, _registry_config):
    error = student.refused("push", f"{NAME}/nada:1")
    assert "No tienes ninguna imagen «registro.muelle/nada:1»" in error
    student.ok("tag", IMAGE, f"{NAME}/varias:1")
    student.ok("tag", IMAGE, f"{NAME}/varias:2")
    out = student.ok("push", "--all-tags", f"{NAME}/varias")
    assert "1: digest:" in out and "2: digest:" in out
    assert _remote_tags(_registry_config, student) == {"varias": ["1", "2"]}
    # A tag named «error» is a tag like any other: the engine's progress names it (`"id":
    # "error"`), and a pull of it was taken for a failed one (the image never got its name).
    student.ok("tag", IMAGE, f"{NAME}/varias:error")
    student.ok("push", f"{NAME}/varias:error")
    student.ok("rmi", f"{NAME}/varias:error")
    student.ok("pull", f"{NAME}/varias:error")
    assert student.ok("images", "-q", f"{NAME}/varias:error").strip()
    error = student.refused("pull", f"{NAME}/varias@sha256:{'a' * 64}")
    assert "Descarga una etiqueta, no un digest" in error, error


def test_the_students_events_never_show_the_real_address(student, registry, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo propia > /propia\n")
    student.ok("build", "-q", "-t", f"{NAME}/eventos:1", str(tmp_path), timeout=180)
    since = _direct("info", "-f", "{{.SystemTime}}")
    student.ok("push", f"{NAME}/eventos:1")
    student.ok("rmi", f"{NAME}/eventos:1")
    student.ok("pull", f"{NAME}/eventos:1")
    until = _direct("info", "-f", "{{.SystemTime}}")
    events = student.ok("events", "--since", since.strip(), "--until", until.strip())
    assert "eventos" in events  # the student's own image events are there...
    assert registry.address not in events  # ...under the course name only


def test_a_push_or_pull_under_way_is_not_seen_by_its_real_name(
    make_student, _registry_config, registry
):
    # While Ana pushes or pulls, the engine holds her image under the registry's real address
    # and her key (handlers_registry._engine_repo). Made here as it is then: Bea asking for
    # that name learnt what Ana was pushing (an attack review, polling during the push).
    ana, bea = make_student(), make_student()
    real = f"{registry.address}/{student_key(_registry_config.instance, ana.owner)}/curso:1"
    _direct("tag", IMAGE, real)
    try:
        for student in (bea, ana):
            error = student.refused("image", "inspect", real)
            assert "No existe" in error or "No such" in error, error
            error = student.refused("run", "--rm", "--pull", "never", real, "echo", "corrió")
            assert "No existe la imagen" in error, error
    finally:
        _direct("rmi", real)
