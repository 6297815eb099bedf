"""What each image declares in its configuration, as the official image documents it: the ports
it exposes, its volumes, its default command, working folder and environment. One row an image;
what each image does when it runs is in its own test_<image>_contract.py."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.docker

# repository -> the configuration keys the official image documents, each with what must be there.
DECLARED: dict[str, dict[str, Any]] = {
    "busybox": {"Cmd": ["sh"]},
    "debian": {"Cmd": ["bash"]},
    "alpine": {"Cmd": ["/bin/sh"]},
    "python": {"Cmd": ["python3"]},
    "httpd": {"ExposedPorts": ["80/tcp"], "Cmd": ["httpd-foreground"]},
    "nginx": {"ExposedPorts": ["80/tcp"]},
    "adminer": {"ExposedPorts": ["8080/tcp"]},
    "redis": {"ExposedPorts": ["6379/tcp"], "Volumes": ["/data"], "WorkingDir": "/data"},
    "mariadb": {"ExposedPorts": ["3306/tcp"], "Volumes": ["/var/lib/mysql"]},
    "postgres": {
        "ExposedPorts": ["5432/tcp"],
        "Volumes": ["/var/lib/postgresql/data"],
        "Env": ["PGDATA=/var/lib/postgresql/data"],
    },
    "wordpress": {"ExposedPorts": ["80/tcp"], "Volumes": ["/var/www/html"]},
}
# Exactly these values; for the other keys, the listed entries are among the image's.
EXACT = {"Cmd", "WorkingDir"}


@pytest.mark.parametrize(("repository", "declared"), DECLARED.items(), ids=list(DECLARED))
def test_the_image_declares_what_its_documentation_says(
    client, image_of, repository: str, declared: dict[str, Any]
) -> None:  # noqa: ANN001
    config = client.images.get(image_of(repository)).attrs["Config"]
    for key, expected in declared.items():
        if key in EXACT:
            assert config[key] == expected, key
        else:
            missing = [entry for entry in expected if entry not in (config[key] or ())]
            assert missing == [], f"{key} lacks {missing}"
