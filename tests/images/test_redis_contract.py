"""redis: answers on 6379 to other containers, keeps its data in /data, runs as non-root."""

from __future__ import annotations

import pytest

from .conftest import process_uid

pytestmark = pytest.mark.docker


def test_another_container_reaches_it_and_the_data_survives_in_the_volume(  # noqa: ANN001
    lab, image_of
) -> None:
    image = image_of("redis")
    data = lab.volume("data")
    server = lab.start(image, "cache", volumes={data: "/data"})

    def cli(*args: str) -> tuple[int, str]:
        return lab.run(image, ["redis-cli", "-h", "cache", *args])

    assert lab.until(lambda: cli("ping"), "redis-cli ping").strip() == "PONG"
    assert process_uid(server) != 0
    assert cli("set", "saludo", "hola")[1].strip() == "OK"
    server.stop(timeout=30)  # redis saves on SIGTERM
    server.remove(v=True)
    lab.start(image, "cache", volumes={data: "/data"})
    lab.until(lambda: cli("ping"), "redis-cli ping after restart")
    assert cli("get", "saludo")[1].strip() == "hola"
