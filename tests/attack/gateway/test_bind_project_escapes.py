"""Attacks on the project-folder bind, as a student would try them: the real CLI through their
gateway, the real engine. Whatever they plant in the folder or write as the source, a container
gets their sandbox's project volume or nothing: never a host path, never another student's."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.gateway.conftest import IMAGE
from tests.gateway.project_standin import engine_has_volume, project_sides

pytestmark = pytest.mark.docker

FOLDER = "/home/alumno/proyecto"
ONLY_THE_WHOLE_FOLDER = "solo se puede montar la carpeta /home/alumno/proyecto entera"


def run_refused(student, flags: list[str]) -> str:
    """The student's `docker run --rm <flags> IMAGE true`, which must be refused: its error."""
    return student.refused("run", "--rm", *flags, IMAGE, "true")


@pytest.fixture
def project_of():
    yield from project_sides()


@pytest.fixture
def host_marker() -> str:
    """A file only the host has: a container that reads it has escaped."""
    path = Path(f"/tmp/muelle-bind-marker-{uuid.uuid4().hex}")  # noqa: S108
    path.write_text("host\n")
    yield str(path)
    path.unlink()


def test_a_symlink_to_the_root_is_followed_inside_the_container(student, project_of, host_marker):
    side = project_of(student)
    side.sh(f"ln -s / {FOLDER}/raiz && ln -s /etc {FOLDER}/etc && ln -s {host_marker} {FOLDER}/m")
    student.ok("run", "-d", "--name", "c", "-v", f"{FOLDER}:/p:ro", IMAGE, "sleep", "300")

    # The links are the student's, unchanged, and resolve in the container's own filesystem.
    assert student.ok("exec", "c", "readlink", "/p/raiz") == "/\n"
    assert student.ok("exec", "c", "readlink", "/p/etc") == "/etc\n"
    hostname = student.ok("exec", "c", "hostname").strip()
    assert student.ok("exec", "c", "cat", "/p/etc/hostname").strip() == hostname
    assert student.docker("exec", "c", "cat", "/p/m").returncode != 0
    assert student.docker("exec", "c", "cat", f"/p/raiz{host_marker}").returncode != 0
    # What the container sees at /p is the volume: the links and nothing else.
    assert sorted(student.ok("exec", "c", "ls", "-A", "/p").split()) == ["etc", "m", "raiz"]


@pytest.mark.parametrize("link", ["raiz", "etc", "m"])
def test_a_symlink_in_the_folder_is_refused_as_a_source(student, project_of, host_marker, link):
    side = project_of(student)
    side.sh(f"ln -s / {FOLDER}/raiz && ln -s /etc {FOLDER}/etc && ln -s {host_marker} {FOLDER}/m")
    error = student.refused("run", "--rm", "-v", f"{FOLDER}/{link}:/x", IMAGE, "ls", "/x")
    assert "subcarpeta de tu carpeta de proyecto" in error
    assert f"-v {FOLDER}:/app" in error  # says what works
    assert student.ok("ps", "-aq") == ""


@pytest.mark.parametrize(
    "flags",
    [
        ["-v", f"{FOLDER}/..:/x"],
        ["-v", f"{FOLDER}/../..:/x"],
        ["-v", f"{FOLDER}/../../../etc:/x"],
        ["-v", f"{FOLDER}/../../..:/x"],
        ["-v", "/home/alumno:/x"],
        ["-v", "/home/alumno/proyectos:/x"],  # a sibling that starts with the same letters
        ["-v", "/home/alumno/proyecto.:/x"],
        ["--mount", f"type=bind,src={FOLDER}/../..,dst=/x"],
        ["--mount", f"type=bind,src={FOLDER}/..,dst=/x,readonly"],
        ["--mount", "type=bind,src=/,dst=/x"],
    ],
    ids=lambda flags: " ".join(flags),
)
def test_paths_that_leave_the_folder_stay_refused(student, project_of, flags):
    project_of(student)
    error = run_refused(student, flags)
    assert "no se pueden montar carpetas del servidor" in error
    assert student.ok("ps", "-aq") == ""


def test_a_subfolder_is_refused_with_what_works(student, project_of):
    side = project_of(student)
    side.sh(f"mkdir {FOLDER}/sub && echo x > {FOLDER}/sub/a")
    for flags in (
        ["-v", f"{FOLDER}/sub:/x"],
        ["--mount", f"type=bind,source={FOLDER}/sub,target=/x"],
        ["-v", f"{FOLDER}/sub/../sub:/x"],
    ):
        assert ONLY_THE_WHOLE_FOLDER in run_refused(student, flags)


def test_bind_propagation_and_selinux_options_are_refused(student, project_of):
    project_of(student)
    for flags in (
        ["-v", f"{FOLDER}:/x:rshared"],
        ["-v", f"{FOLDER}:/x:z"],
        ["--mount", f"type=bind,src={FOLDER},dst=/x,bind-propagation=rshared"],
    ):
        assert "no está permitido" in run_refused(student, flags)
    # Raw API, the key spelt in another case (the engine reads keys case-insensitively).
    body = {
        "Image": IMAGE,
        "hostconfig": {
            "mounts": [
                {
                    "type": "bind",
                    "source": FOLDER,
                    "target": "/x",
                    "bindoptions": {"propagation": "rshared"},
                }
            ]
        },
    }
    status, answer = student.raw("POST", "/v1.41/containers/create", json.dumps(body).encode())
    assert status == 403, answer
    assert student.ok("ps", "-aq") == ""


def test_a_volume_named_like_a_project_volume_is_the_students_own(
    student, other_student, project_of
):
    theirs = project_of(other_student)
    theirs.sh(f"echo secreto > {FOLDER}/s.txt")
    mine = project_of(student)
    mine.sh(f"echo mio > {FOLDER}/m.txt")
    for name in (theirs.volume, mine.volume):
        student.ok("volume", "create", name)
        listing = student.ok("run", "--rm", "-v", f"{name}:/v", IMAGE, "ls", "-A", "/v")
        assert listing == ""  # a new, empty volume of the student's, not a project's files
        inspected = json.loads(student.ok("volume", "inspect", name))[0]
        assert inspected["Name"] == name
    # Shown as the volume it is, not dressed up as the project folder.
    student.ok("create", "--name", "falso", "-v", f"{mine.volume}:/v", IMAGE, "true")
    mounts = json.loads(student.ok("inspect", "-f", "{{json .Mounts}}", "falso"))
    assert [(m["Type"], m["Name"]) for m in mounts] == [("volume", mine.volume)]
    student.ok("rm", "falso")
    # Neither project volume is theirs to see or list.
    listed = student.ok("volume", "ls", "-q").split()
    assert sorted(listed) == sorted([theirs.volume, mine.volume])  # the two they just made
    assert theirs.sh(f"cat {FOLDER}/s.txt") == "secreto\n"


def test_binding_the_folder_never_reaches_another_students_project(
    student, other_student, project_of
):
    theirs = project_of(other_student)
    theirs.sh(f"echo secreto > {FOLDER}/s.txt")
    project_of(student)
    listing = student.ok("run", "--rm", "-v", f"{FOLDER}:/p", IMAGE, "ls", "-A", "/p")
    assert listing == ""


def test_removing_the_project_volume_is_impossible(student, project_of):
    side = project_of(student)
    side.sh(f"echo sigue > {FOLDER}/a.txt")
    student.ok("run", "-d", "--name", "c", "-v", f"{FOLDER}:/p", IMAGE, "sleep", "300")
    error = student.refused("volume", "rm", "-f", side.volume)
    assert "No such volume" in error or "no existe" in error.lower()
    student.docker("volume", "prune", "-f")
    student.ok("rm", "-f", "c")
    student.docker("volume", "prune", "-f")
    assert engine_has_volume(side.volume)
    assert side.sh(f"cat {FOLDER}/a.txt") == "sigue\n"


def test_without_the_sandbox_the_folder_cannot_be_conjured(student):
    # No project volume for this gateway folder: the engine must not be asked to make one.
    for flags in (["-v", f"{FOLDER}:/p"], ["--mount", f"type=bind,src={FOLDER},dst=/p"]):
        assert "no tiene carpeta de proyecto" in run_refused(student, flags)
    assert not engine_has_volume(f"muelle-proyecto-{student.folder.name}")


def test_a_setuid_root_file_planted_by_a_container_gives_the_sandbox_nothing(student, project_of):
    side = project_of(student)
    side.sh(f"chmod 0777 {FOLDER}")
    # The student's container runs as root with CHOWN/FOWNER/FSETID: it can make a setuid-root
    # copy of a shell in the shared folder.
    student.ok(
        "run", "--rm", "-v", f"{FOLDER}:/p", IMAGE,
        "sh", "-c", "cp /bin/busybox /p/busybox && chown 0:0 /p/busybox && chmod 4755 /p/busybox",
    )  # fmt: skip
    assert side.sh(f"stat -c '%u %a' {FOLDER}/busybox") == "0 4755\n"
    # The kernel ignores that bit (and device files) on the folder as the sandbox mounts it.
    # (Not probed by running it: BusyBox drops a setuid root on its own for most applets.)
    options = side.sh(f"grep ' {FOLDER} ' /proc/self/mountinfo").split(" - ")[0].split()[5]
    assert {"nosuid", "nodev"} <= set(options.split(","))
