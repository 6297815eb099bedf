"""The untagged layers a student's build leaves are that student's: they inherit the course
image's label, but another student can neither list them nor run them (they hold the first
student's files)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.docker


def test_another_students_build_layers_are_invisible_and_unusable(
    student: Any, other_student: Any, tmp_path: Any
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "secreto.txt").write_text("clave-de-ana\n")
    (context / "Dockerfile").write_text(
        "FROM muelle/busybox\nCOPY secreto.txt /secreto.txt\nRUN echo uno > /uno\n"
    )
    student.ok("build", "-t", "app", str(context))
    # The layers under the student's image, as `docker history` names them.
    own_layers = {
        layer[:12]
        for layer in student.ok("history", "-q", "--no-trunc", "app").split()
        if layer.startswith("sha256:") or len(layer) >= 12
    } - {"<missing>"}
    own_layers = {layer.removeprefix("sha256:")[:12] for layer in own_layers}
    base = {
        i.removeprefix("sha256:")[:12] for i in student.ok("images", "-q", "muelle/busybox").split()
    }
    top = student.ok("images", "-q", "app").strip()[:12]
    own_layers -= base | {top}
    assert own_layers, "the build left no intermediate layers to test with"
    seen_by_other = {
        line.split()[0]
        for line in other_student.ok("images", "-a", "--format", "{{.ID}}").splitlines()
    }
    assert not own_layers & seen_by_other
    for layer in own_layers:
        result = other_student.docker("run", "--rm", layer, "cat", "/secreto.txt")
        assert result.returncode != 0
        assert "clave-de-ana" not in result.stdout


def test_the_same_build_by_two_students_shares_no_layer_so_neither_rmi_breaks_the_other(
    student: Any, other_student: Any, tmp_path: Any
) -> None:
    # The builder's cache was shared: a second student's build reused the first's layers, and
    # the first one's `docker rmi` deleted a layer the other's build had just found there
    # ("unable to find image", seen when three lessons ran at once in CI).
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        'FROM muelle/busybox\nENTRYPOINT ["echo", "Has dicho:"]\nCMD ["hola"]\n'
    )
    student.ok("build", "-t", "eco", str(context))
    other = other_student.docker("build", "-t", "eco", str(context))
    assert other.returncode == 0 and "Using cache" not in other.stdout, other.stdout
    student.ok("rmi", "eco")
    assert other_student.ok("run", "--rm", "eco", "sigue") == "Has dicho: sigue\n"


def test_a_failed_build_leaves_only_layers_of_its_student(student: Any, tmp_path: Any) -> None:
    # The builder keeps the image of each step that succeeded when a later one fails; without
    # the student's labels it was no one's: not counted, not listed, never removed.
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM muelle/busybox\nRUN echo a-medias > /a-medias\nRUN false\n"
    )
    failed = student.docker("build", "-t", "rota", str(context))
    assert failed.returncode != 0
    leftover = student.ok("images", "--filter", "dangling=true", "-q").split()
    assert len(leftover) == 1  # the student sees it, so the quota counts it
    assert "a-medias" in student.ok("run", "--rm", leftover[0], "cat", "/a-medias")
    assert "Total reclaimed space: 0B" not in student.ok("image", "prune", "-f")
    assert student.ok("images", "--filter", "dangling=true", "-q").split() == []
