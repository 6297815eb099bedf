"""`docker commit --change` read as the engine reads it (every change joined by a newline and
parsed as a Dockerfile): quoted label keys, newlines and trailing escapes cannot smuggle
Muelle's own labels or a forbidden instruction in."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.docker


@pytest.fixture
def container(student: Any) -> str:
    student.ok("run", "-d", "--name", "base", "-m", "32m", "muelle/busybox", "sleep", "300")
    return "base"


@pytest.mark.parametrize(
    "changes",
    [
        ['LABEL "muelle".student=otro "muelle".course=1'],
        ["LABEL 'muelle.course'=1"],
        ["LABEL muelle\\.course=1"],
        ["ENV A=1\nLABEL muelle.course=1"],
        ["ENV A=1 \\", "LABEL muelle.course=1"],
        ["ENV A=1\nRUN echo no"],
        ["# escape=`\nENV A=1"],
        ["LABEL\vmuelle.course=1"],
        ["ONBUILD RUN echo no"],
    ],
)
def test_smuggled_changes_are_refused(student: Any, container: str, changes: list[str]) -> None:
    args = [arg for change in changes for arg in ("--change", change)]
    # Refused by the gateway, or (a continuation that makes `LABEL` a value of ENV) by the
    # engine reading exactly what the gateway checked: either way nothing is committed.
    error = student.refused("commit", *args, container, "forjada")
    assert "Muelle" in error or "Syntax error" in error
    assert "forjada" not in student.ok("images", "--format", "{{.Repository}}")


def test_plain_changes_still_work_and_keep_ownership(
    student: Any, other_student: Any, container: str
) -> None:
    student.ok(
        "commit",
        "--change",
        "ENV SALUDO=hola",
        "--change",
        'LABEL autor="ana"',
        "--change",
        'CMD ["echo", "hecho"]',
        container,
        "mia",
    )
    config = json.loads(student.ok("image", "inspect", "-f", "{{json .Config}}", "mia"))
    assert "SALUDO=hola" in config["Env"]
    assert config["Labels"].get("autor") == "ana"
    assert not any(key.startswith("muelle") for key in config["Labels"])
    assert config["Cmd"] == ["echo", "hecho"]
    assert "mia" not in other_student.ok("images", "--format", "{{.Repository}}")
