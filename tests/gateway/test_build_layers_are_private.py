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
