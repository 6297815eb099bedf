"""nginx: serves /usr/share/nginx/html on port 80, logs to the container's output."""

from __future__ import annotations

import pytest

from .conftest import logs

pytestmark = pytest.mark.docker


def test_it_answers_on_port_80_with_the_welcome_page(lab, image_of, fetch) -> None:  # noqa: ANN001
    server = lab.start(image_of("nginx"), "web")
    assert "Welcome to nginx!" in fetch("http://web/")
    assert '"GET / HTTP/1.1" 200' in logs(server)  # access log -> docker logs


def test_it_serves_the_files_of_the_content_directory(lab, image_of, fetch, volume_with) -> None:  # noqa: ANN001
    site = volume_with("index.html", "<h1>Mi web</h1>")
    lab.start(image_of("nginx"), "web", volumes={site: "/usr/share/nginx/html"})
    assert fetch("http://web/").strip() == "<h1>Mi web</h1>"
