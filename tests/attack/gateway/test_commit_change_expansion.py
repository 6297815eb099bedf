"""`docker commit --change` as the engine runs it: the changes are dispatched like Dockerfile
instructions, with the environment (every ENV change before them included) expanded in LABEL
keys and values. A reserved key spelt through a variable must be refused like a written one.
What the image really got is read on the engine itself (the gateway hides Muelle's labels)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.engine_side import ENGINE_SOCKET, raw_request

pytestmark = pytest.mark.docker


@pytest.fixture
def container(student: Any) -> str:
    student.base_id = student.ok(
        "run", "-d", "--name", "base", "-m", "32m", "muelle/busybox", "sleep", "300"
    ).strip()
    return "base"


def engine_labels(image_id: str) -> dict[str, str] | None:
    """The labels the engine holds for the image `docker commit` printed the ID of."""
    if not image_id.startswith("sha256:"):
        return None
    status, info = raw_request(ENGINE_SOCKET, "GET", f"/images/{image_id}/json")
    return (info.get("Config") or {}).get("Labels") or {} if status == 200 else None


def own_labels(student: Any) -> dict[str, str]:
    """The owner labels the gateway gives every object of this student's."""
    status, info = raw_request(ENGINE_SOCKET, "GET", f"/containers/{student.base_id}/json")
    assert status == 200
    return {k: v for k, v in info["Config"]["Labels"].items() if k.startswith("muelle")}


@pytest.mark.parametrize(
    "changes",
    [
        ["ENV P=muelle", "LABEL ${P}.otra=1"],
        ["ENV P=muel", "LABEL ${P}le.otra=1"],
        ["ENV P=muelle.otra", "LABEL $P=1"],
    ],
)
def test_a_reserved_label_spelt_through_a_variable_is_never_committed(
    student: Any, other_student: Any, container: str, changes: list[str]
) -> None:
    args = [arg for change in changes for arg in ("--change", change)]
    done = student.docker("commit", *args, container, "forjada")
    if done.returncode != 0:
        assert "Muelle" in done.stderr
        assert "forjada" not in student.ok("images", "--format", "{{.Repository}}")
        return
    # Committed: Muelle's labels on it are exactly the ones its base and its owner give it.
    labels = engine_labels(done.stdout.strip())
    assert labels is not None
    base = engine_labels(raw_request(ENGINE_SOCKET, "GET", "/images/muelle/busybox/json")[1]["Id"])
    expected = {k: v for k, v in {**(base or {}), **own_labels(student)}.items()}
    assert {k: v for k, v in labels.items() if k.startswith("muelle")} == {
        k: v for k, v in expected.items() if k.startswith("muelle")
    }


def test_another_students_ownership_cannot_be_written_through_a_variable(
    student: Any, other_student: Any, container: str
) -> None:
    owner_key = next(k for k, v in own_labels(student).items() if v == student.owner)
    done = student.docker(
        "commit",
        "--change",
        f"ENV K={owner_key}",
        "--change",
        f"LABEL $K={other_student.owner}",
        container,
        "regalo",
    )
    if done.returncode == 0:
        assert (engine_labels(done.stdout.strip()) or {}).get(owner_key) == student.owner
    assert "regalo" not in other_student.ok("images", "--format", "{{.Repository}}")


@pytest.mark.parametrize(
    "change",
    [
        'LABEL "a b"=c muelle.role=sandbox muelle.gateway=pX',
        "LABEL 'x y'=z muelle.student=otro",
    ],
)
def test_a_reserved_label_after_a_quoted_first_key_is_never_committed(
    student: Any, container: str, change: str
) -> None:
    # The first word holds a quoted space, so the engine reads every word as a key=value pair;
    # changes go on after the gateway's own labels and would override them.
    done = student.docker("commit", "--change", change, container, "plantada")
    assert done.returncode != 0
    assert "reservadas para Muelle" in done.stderr
    assert "plantada" not in student.ok("images", "--format", "{{.Repository}}")
