"""nginx: serves /usr/share/nginx/html on port 80, logs to the container's output."""

from __future__ import annotations

import pytest

from .conftest import logs

pytestmark = pytest.mark.docker


def test_it_exposes_port_80(client, image_of) -> None:  # noqa: ANN001
    assert "80/tcp" in client.images.get(image_of("nginx")).attrs["Config"]["ExposedPorts"]


def test_it_answers_on_port_80_with_the_welcome_page(lab, image_of) -> None:  # noqa: ANN001
    server = lab.start(image_of("nginx"), "web")
    page = lab.until(
        lambda: lab.run(image_of("busybox"), ["wget", "-qO-", "http://web/"]), "GET http://web/"
    )
    assert "Welcome to nginx!" in page
    assert '"GET / HTTP/1.1" 200' in logs(server)  # access log -> docker logs


def test_it_serves_the_files_of_the_content_directory(lab, image_of) -> None:  # noqa: ANN001
    site = lab.volume("site")
    code, out = lab.run(
        image_of("busybox"),
        ["sh", "-c", "echo '<h1>Mi web</h1>' > /site/index.html"],
        volumes={site: "/site"},
    )
    assert code == 0, out
    lab.start(image_of("nginx"), "web", volumes={site: "/usr/share/nginx/html"})
    page = lab.until(
        lambda: lab.run(image_of("busybox"), ["wget", "-qO-", "http://web/"]), "GET http://web/"
    )
    assert page.strip() == "<h1>Mi web</h1>"
