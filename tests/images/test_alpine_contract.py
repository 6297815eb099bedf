"""alpine-like small Linux: /bin/sh by default and the usual tools in a few MB."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_it_is_small(client, image_of) -> None:  # noqa: ANN001
    assert client.images.get(image_of("alpine")).attrs["Size"] < 20 * 1024**2  # the point of it


def test_the_shell_and_tools_a_lesson_uses_work(lab, image_of) -> None:  # noqa: ANN001
    script = "echo hola > /tmp/f && cat /tmp/f && ls / | grep -c etc && id -u && uname -s"
    code, out = lab.run(image_of("alpine"), ["/bin/sh", "-c", script])
    assert code == 0, out
    assert out.split() == ["hola", "1", "0", "Linux"]
