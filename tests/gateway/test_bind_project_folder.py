"""A bind of the project folder (`-v /home/alumno/proyecto:/app`, `--mount type=bind,...`) works
as on the student's own Docker: the container sees the folder's files live, read-only when asked,
the image's files are never copied into it, and `docker inspect` says what was asked. It is the
sandbox's project volume underneath (sandbox/gateway/project.py), never a host path."""

from __future__ import annotations

import json

import pytest

from .conftest import DOCKER_NEW, IMAGE
from .project_standin import engine_has_volume, project_sides

pytestmark = pytest.mark.docker


@pytest.fixture
def project_of():
    yield from project_sides()


FOLDER = "/home/alumno/proyecto"


def test_a_container_sees_the_project_folder_live_and_read_only(student, project_of):
    side = project_of(student)
    side.sh(f"echo 'versión 1' > {FOLDER}/index.html")
    student.ok("run", "-d", "--name", "web", "-v", f"{FOLDER}:/www:ro", IMAGE, "sleep", "300")
    assert student.ok("exec", "web", "cat", "/www/index.html") == "versión 1\n"

    side.sh(f"echo 'versión 2' > {FOLDER}/index.html")  # edited in the sandbox, no restart
    assert student.ok("exec", "web", "cat", "/www/index.html") == "versión 2\n"

    denied = student.docker("exec", "web", "touch", "/www/nuevo")
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr


def test_a_writable_bind_shares_files_both_ways(student, project_of):
    side = project_of(student)
    side.sh(f"chmod 0777 {FOLDER}")  # the container's root has no CAP_DAC_OVERRIDE
    student.ok(
        "run", "--rm", "--mount", f"type=bind,source={FOLDER},target=/datos", IMAGE,
        "sh", "-c", "echo desde-el-contenedor > /datos/nota.txt",
    )  # fmt: skip
    assert side.sh(f"cat {FOLDER}/nota.txt") == "desde-el-contenedor\n"


def test_the_images_files_are_not_copied_into_the_folder(student, project_of):
    side = project_of(student)
    # An empty named volume would receive the image's /usr; a bind hides it, as here.
    assert student.ok("run", "--rm", IMAGE, "ls", "-A", "/usr") == "bin\nsbin\n"
    listing = student.ok("run", "--rm", "-v", f"{FOLDER}:/usr", IMAGE, "ls", "-A", "/usr")
    assert listing == ""
    assert side.sh(f"ls -A {FOLDER}") == ""


@pytest.mark.parametrize(
    "source",
    [
        f"{FOLDER}/",
        f"{FOLDER}/.",
        "/home//alumno///proyecto",
        f"{FOLDER}/sub/..",
        "//home/alumno/proyecto",
    ],
)
def test_the_source_is_normalised_like_the_engine_does(student, project_of, source):
    side = project_of(student)
    side.sh(f"echo hola > {FOLDER}/a.txt")
    assert student.ok("run", "--rm", "-v", f"{source}:/p", IMAGE, "cat", "/p/a.txt") == "hola\n"


def test_inspect_and_ps_show_the_bind_as_asked(student, project_of):
    project_of(student)
    student.ok("create", "--name", "a", "-v", f"{FOLDER}:/www:ro", IMAGE, "true")
    student.ok("create", "--name", "b", "--mount", f"type=bind,src={FOLDER},dst=/m", IMAGE, "true")

    a = json.loads(student.ok("inspect", "a"))[0]
    assert a["HostConfig"]["Binds"] == [f"{FOLDER}:/www:ro"]
    assert [(m["Type"], m["Source"], m["Destination"], m["RW"]) for m in a["Mounts"]] == [
        ("bind", FOLDER, "/www", False)
    ]
    b = json.loads(student.ok("inspect", "b"))[0]
    assert b["HostConfig"]["Mounts"] == [{"Type": "bind", "Source": FOLDER, "Target": "/m"}]
    assert [(m["Type"], m["Source"], m["RW"]) for m in b["Mounts"]] == [("bind", FOLDER, True)]

    shown = student.ok("inspect", "a", "b") + student.ok(
        "ps", "-a", "--no-trunc", "--format", "{{.Mounts}}"
    )
    assert FOLDER in shown
    # Neither the engine's volume name (it holds the gateway folder's name) nor its path.
    assert "muelle-proyecto" not in shown
    assert "/var/lib/docker/volumes" not in shown
    assert student.folder.name not in shown


def test_the_current_cli_binds_the_folder_too(student, project_of):
    side = project_of(student)
    side.sh(f"echo nuevo > {FOLDER}/v.txt")
    for flags in (["-v", f"{FOLDER}:/p:ro"], ["--mount", f"type=bind,src={FOLDER},dst=/p,ro"]):
        out = student.ok("run", "--rm", *flags, IMAGE, "cat", "/p/v.txt", binary=DOCKER_NEW)
        assert out == "nuevo\n"


def test_without_a_project_folder_the_bind_is_refused_and_nothing_is_made(student):
    error = student.refused("run", "--rm", "-v", f"{FOLDER}:/p", IMAGE, "true")
    assert "no tiene carpeta de proyecto" in error
    # The engine would have made the volume on the fly, unlabelled and never cleaned up.
    assert not engine_has_volume(f"muelle-proyecto-{student.folder.name}")
    assert student.ok("ps", "-aq") == ""
