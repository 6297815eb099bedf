"""adminer: the login page on port 8080, served as a non-root user."""

from __future__ import annotations

import re

import pytest

from .conftest import process_uid

pytestmark = pytest.mark.docker


def test_it_serves_the_login_page_as_non_root(lab, image_of, fetch) -> None:  # noqa: ANN001
    server = lab.start(image_of("adminer"), "adminer")
    page = fetch("http://adminer:8080/")
    assert "Adminer" in page
    # The login form: system, server, user, password (quoting differs between builds).
    for field in ("driver", "server", "username", "password"):
        assert re.search(rf"name=[\"']auth\[{field}\]", page), field
    assert process_uid(server) != 0
