"""Images: the student's own (tags, commits, imports) next to the shared course images."""

from __future__ import annotations

import io
import tarfile

import pytest

from .conftest import IMAGE

pytestmark = pytest.mark.docker


def test_course_images_are_listed_and_cannot_be_removed(student):
    names = student.ok("images", "--format", "{{.Repository}}").split()
    assert {"muelle/hola", "muelle/busybox", "muelle/web"} <= set(names)
    assert "imagen del curso" in student.refused("rmi", "muelle/hola")
    assert "imagen del curso" in student.refused("rmi", "-f", "muelle/hola")
    assert student.ok("run", "--rm", "muelle/hola").startswith("\n¡Hola desde Muelle!")


def test_a_tag_on_a_course_image_is_the_students_and_only_it_goes(student, other_student):
    student.ok("tag", IMAGE, "mio:1")
    assert student.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "mio") == "mio:1\n"
    assert "mio" not in other_student.ok("images")
    out = student.ok("rmi", "mio:1")
    assert "Untagged: mio:1" in out
    assert student.ok("images", "-q", IMAGE)


def test_commit_makes_an_image_of_the_students(student):
    student.ok("run", "--name", "base", IMAGE, "sh", "-c", "echo cambiado > /marca")
    student.ok("commit", "-c", 'CMD ["cat", "/marca"]', "base", "instantanea:v1")
    assert student.ok("run", "--rm", "instantanea:v1") == "cambiado\n"
    assert "ONBUILD" in student.refused("commit", "-c", "ONBUILD RUN true", "base", "x")
    assert "reservadas" in student.refused("commit", "-c", "LABEL muelle.course=1", "base", "y")
    from sandbox.gateway.names import Namespace

    prefix = Namespace(student.owner, student.config.instance).image_prefix
    listing = student.ok("images", "--format", "{{.Repository}}") + student.ok(
        "history", "instantanea:v1"
    )
    assert prefix not in listing


def test_import_from_a_file_is_labelled_and_saved_images_stream(student, tmp_path):
    archive = tmp_path / "raiz.tar"
    with tarfile.open(archive, "w") as tar:
        data = b"importado\n"
        info = tarfile.TarInfo("dato.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    student.ok("import", str(archive), "importada:1")
    assert student.ok("images", "--format", "{{.Repository}}", "importada") == "importada\n"
    assert student.engine_objects()["images"]
    saved = tmp_path / "guardada.tar"
    student.ok("save", "-o", str(saved), "importada:1")
    assert saved.stat().st_size > 0
    assert "no permite" in student.refused("load", "-i", str(saved))
