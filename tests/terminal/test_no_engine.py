from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_without_an_engine_it_explains_in_spanish_and_closes_4003(
    open_tab, session_key, monkeypatch, tmp_path
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-hay-docker.sock")

    tab = await open_tab(session_key, ready=False)

    assert await tab.closed(timeout=30) == 4003
    notice = tab.events[-1]
    assert notice["type"] == "notice"
    assert notice["level"] == "error"
    assert "Docker" in notice["message"]
    assert "docker info" in notice["message"]  # how to fix it


@pytest.mark.docker
async def test_a_missing_course_image_is_explained_with_how_to_build_it(
    open_tab, session_key, settings
):
    settings.SANDBOX_IMAGE = "muelle/no-existe:nunca"

    tab = await open_tab(session_key, ready=False)

    assert await tab.closed(timeout=30) == 4003
    assert "build_images" in tab.events[-1]["message"]


async def test_with_the_terminal_switched_off_it_closes_4003(open_tab, session_key, settings):
    settings.SANDBOX_ENABLED = False

    tab = await open_tab(session_key, ready=False)

    assert await tab.closed() == 4003
    assert "SANDBOX_ENABLED" in tab.events[-1]["message"]
