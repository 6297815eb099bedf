"""busybox: a shell (the default command) and the BusyBox applets."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_its_shell_and_applets_work(lab, image_of) -> None:  # noqa: ANN001
    code, out = lab.run(
        image_of("busybox"), ["sh", "-c", "echo $((6*7)); busybox | head -1; wget --help 2>&1"]
    )
    assert code == 0, out
    assert "42" in out
    assert "BusyBox v1." in out
    assert "Usage: wget" in out
