"""debian:bookworm: Debian 12 with bash as the default command and apt for packages."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_it_is_debian_bookworm(lab, image_of) -> None:  # noqa: ANN001
    code, out = lab.run(image_of("debian"), ["cat", "/etc/os-release", "/etc/debian_version"])
    assert code == 0, out
    assert "VERSION_CODENAME=bookworm" in out
    assert "\n12." in out


def test_it_has_apt_and_dpkg_knows_bash(lab, image_of) -> None:  # noqa: ANN001
    code, out = lab.run(image_of("debian"), ["bash", "-c", "apt-get --version && dpkg -s bash"])
    assert code == 0, out
    assert "Status: install ok installed" in out
