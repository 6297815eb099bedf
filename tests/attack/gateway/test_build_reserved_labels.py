"""A Dockerfile's LABEL spelling Muelle's reserved labels: `docker run --label muelle.*` and
`commit --change LABEL muelle.*` are refused; a build must not give an image (and through it every
container made from it) labels Muelle reads to find sandboxes and published ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gateway.engine_side import ENGINE_SOCKET, raw_request

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(
    "instruction",
    [
        "LABEL muelle.role=sandbox muelle.gateway=0123456789abcd",
        "ENV P=muelle\nLABEL ${P}.role=sandbox",
        'LABEL "muel"le.role=sandbox',
        "ONBUILD LABEL muelle.role=sandbox",
        # A quoted or escaped space keeps the first word whole: the `key=value` form, whose
        # later words are keys too (read once as the old `LABEL key value` form, key `a`).
        'LABEL "a b"=c muelle.role=sandbox muelle.gateway=0123456789abcd',
        "LABEL 'x y'=z muelle.role=sandbox",
        "LABEL a\\ b=c muelle.role=sandbox",
        'ONBUILD LABEL "a b"=c muelle.role=sandbox',
    ],
)
def test_a_build_never_writes_a_reserved_label(
    student: Any, tmp_path: Path, instruction: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM muelle/busybox\n{instruction}\n")
    done = student.docker("build", "-q", "-t", "etiquetada", str(tmp_path))
    if done.returncode == 0 and "ONBUILD" in instruction:
        # The trigger runs in the build of a child image.
        (tmp_path / "Dockerfile").write_text("FROM etiquetada\n")
        done = student.docker("build", "-q", "-t", "etiquetada", str(tmp_path))
    if done.returncode != 0:
        assert "Muelle" in done.stderr
        return
    cid = student.ok("run", "-d", "-m", "32m", "etiquetada", "sleep", "60").strip()
    status, info = raw_request(ENGINE_SOCKET, "GET", f"/containers/{cid}/json")
    assert status == 200
    labels = info["Config"]["Labels"]
    assert "muelle.role" not in labels and "muelle.gateway" not in labels, labels


def test_a_plain_label_still_reaches_the_image(student: Any, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text('FROM muelle/busybox\nLABEL autor="ana" version=1\n')
    student.ok("build", "-q", "-t", "conetiqueta", str(tmp_path))
    labels = student.ok("image", "inspect", "-f", "{{json .Config.Labels}}", "conetiqueta")
    assert '"autor":"ana"' in labels and '"version":"1"' in labels


def test_a_build_with_the_backtick_escape_never_writes_a_reserved_label(
    student: Any, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        "# escape=`\nFROM muelle/busybox\nLABEL a` b=c muelle.role=sandbox\n"
    )
    done = student.docker("build", "-q", "-t", "etiquetada", str(tmp_path))
    assert done.returncode != 0
    assert "reservadas para Muelle" in done.stderr
