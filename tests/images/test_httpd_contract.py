"""httpd: Apache serving /usr/local/apache2/htdocs on port 80."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_it_answers_it_works(lab, image_of, fetch) -> None:  # noqa: ANN001
    lab.start(image_of("httpd"), "web")
    assert "It works!" in fetch("http://web/")


def test_it_serves_the_files_of_htdocs(lab, image_of, fetch, volume_with) -> None:  # noqa: ANN001
    site = volume_with("hola.txt", "hola desde htdocs")
    lab.start(image_of("httpd"), "web", volumes={site: "/usr/local/apache2/htdocs"})
    assert fetch("http://web/hola.txt").strip() == "hola desde htdocs"
