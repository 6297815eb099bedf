"""hello-world: prints its greeting and exits 0."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_it_prints_hello_from_docker_and_exits_zero(lab, image_of) -> None:  # noqa: ANN001
    code, out = lab.run(image_of("hello-world"), [])
    assert code == 0
    assert "Hello from Docker!" in out
