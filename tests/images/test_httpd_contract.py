"""httpd: Apache serving /usr/local/apache2/htdocs on port 80."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_it_exposes_port_80_and_runs_httpd_foreground(client, image_of) -> None:  # noqa: ANN001
    config = client.images.get(image_of("httpd")).attrs["Config"]
    assert "80/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["httpd-foreground"]


def test_it_answers_it_works(lab, image_of) -> None:  # noqa: ANN001
    lab.start(image_of("httpd"), "web")
    page = lab.until(
        lambda: lab.run(image_of("busybox"), ["wget", "-qO-", "http://web/"]), "GET http://web/"
    )
    assert "It works!" in page


def test_it_serves_the_files_of_htdocs(lab, image_of) -> None:  # noqa: ANN001
    site = lab.volume("site")
    code, out = lab.run(
        image_of("busybox"),
        ["sh", "-c", "echo 'hola desde htdocs' > /site/hola.txt"],
        volumes={site: "/site"},
    )
    assert code == 0, out
    lab.start(image_of("httpd"), "web", volumes={site: "/usr/local/apache2/htdocs"})
    page = lab.until(
        lambda: lab.run(image_of("busybox"), ["wget", "-qO-", "http://web/hola.txt"]),
        "GET http://web/hola.txt",
    )
    assert page.strip() == "hola desde htdocs"
