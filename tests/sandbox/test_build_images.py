from __future__ import annotations

import pytest
from django.core.management import call_command

from sandbox.images import build, recipe


@pytest.mark.docker
def test_a_current_image_is_not_rebuilt(capsys) -> None:  # noqa: ANN001
    call_command("build_images")
    out = capsys.readouterr().out
    assert "está al día" in out
    assert recipe.recipe_hash() in out
    # The lessons' images are checked too.
    for image in ("muelle/hola:latest", "muelle/busybox:latest", "muelle/web:latest"):
        assert f"{image}: al día" in out


def test_the_recipe_changes_with_the_docker_cli_package(monkeypatch: pytest.MonkeyPatch) -> None:
    before = recipe.recipe_hash()
    monkeypatch.setattr(recipe, "DOCKER_CLI_PACKAGE", "docker-ce-cli")
    assert recipe.recipe_hash() != before


def test_the_recipe_changes_with_the_package_list(monkeypatch: pytest.MonkeyPatch) -> None:
    before = recipe.recipe_hash()
    monkeypatch.setattr(recipe, "PACKAGES", [*recipe.PACKAGES, "docker-cli"])
    assert recipe.recipe_hash() != before


def test_the_recipe_changes_with_the_sandbox_user(settings) -> None:  # noqa: ANN001
    before = recipe.recipe_hash()
    settings.SANDBOX_USER = "1001:1001"
    assert recipe.recipe_hash() != before


def test_the_offline_build_names_no_mirror() -> None:
    cmd = build.mmdebstrap_command()
    assert cmd[-2:] == ["bookworm", "-"]  # suite and stdout: the host's apt sources are used
    assert not any("://" in part for part in cmd)
    assert "--include=" + ",".join(recipe.PACKAGES + recipe.OFFLINE_EXTRA) in cmd
