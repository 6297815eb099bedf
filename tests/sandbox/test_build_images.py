from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command

from sandbox import engine
from sandbox.course_images import CourseImageError, standin_build, standins
from sandbox.course_images.standin_build import build_one, recipe_digest
from sandbox.course_images.standins import LABEL_RECIPE, StandIn
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
    # And the stand-ins of the real-world images.
    for stand_in in standins.STAND_INS:
        assert f"{stand_in.name}: al día" in out


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


# --- stand-ins -----------------------------------------------------------------------------------
def test_a_stand_in_recipe_changes_with_its_packages_and_its_base() -> None:
    nginx = standins.by_repository("nginx")
    assert nginx is not None
    before = recipe_digest(nginx)
    assert recipe_digest(replace(nginx, packages=(*nginx.packages, "curl"))) != before
    assert recipe_digest(replace(nginx, changes=("EXPOSE 8080",))) != before
    other_base = replace(standins.BASE, changes=('CMD ["sh"]',))
    assert recipe_digest(nginx, other_base) != before  # a new base rebuilds every layer


def test_a_stand_in_recipe_changes_with_its_files(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(standins, "FILES_DIR", tmp_path)
    redis = standins.by_repository("redis")
    assert redis is not None
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "setup.sh").write_text("mkdir /data\n")
    before = recipe_digest(redis)
    (tmp_path / "redis" / "setup.sh").write_text("mkdir -p /data\n")
    assert recipe_digest(redis) != before


def test_the_stand_in_base_names_no_mirror(tmp_path) -> None:  # noqa: ANN001
    cmd = standin_build.mmdebstrap_command(tmp_path / "rootfs.tar")
    assert cmd[-2:] == ["bookworm", str(tmp_path / "rootfs.tar")]
    assert not any("://" in part for part in cmd)


def test_every_official_name_a_beginner_types_is_provided() -> None:
    names = set(standins.image_names())
    for name in (
        "nginx:latest",
        "httpd:latest",
        "redis:latest",
        "mariadb:latest",
        "postgres:latest",
        "python:3.11-slim",
        "wordpress:latest",
        "adminer:latest",
        "hello-world:latest",
        "busybox:latest",
        "alpine:latest",
        "debian:bookworm",
    ):
        assert name in names


@pytest.fixture
def tiny() -> Iterator[StandIn]:
    """A BusyBox stand-in under a name no one else uses; its images are removed afterwards."""
    repository = f"muelle-test-standin-{uuid.uuid4().hex[:8]}"
    made = StandIn(repository, ("1", "latest"), "BusyBox", "busybox", "A test stand-in")
    yield made
    for name in made.names:
        engine.remove_unused_image(name)


def _say(lines: list[str]) -> Callable[[str], None]:
    return lines.append


@pytest.mark.docker
def test_a_current_stand_in_is_not_rebuilt_and_a_missing_tag_is_restored(tiny) -> None:  # noqa: ANN001
    lines: list[str] = []
    assert build_one(tiny, _say(lines)) is True
    first = engine.image_id(tiny.name)
    assert first and engine.image_id(f"{tiny.repository}:latest") == first
    assert build_one(tiny, _say(lines)) is False
    assert f"{tiny.name}: al día" in lines
    assert engine.image_id(tiny.name) == first

    # Partial: one of its tags is gone (an interrupted build, a student's `docker rmi`).
    engine.call_sync(lambda api: api.remove_image(f"{tiny.repository}:latest"))
    assert build_one(tiny, _say(lines)) is True
    assert engine.image_id(f"{tiny.repository}:latest") == engine.image_id(tiny.name)
    labels = engine.image_labels(f"{tiny.repository}:latest") or {}
    assert labels[LABEL_RECIPE] == recipe_digest(tiny)
    assert labels[standins.LABEL_COURSE] == "1"
    assert "built offline by Muelle" in labels[standins.LABEL_STAND_IN]


@pytest.mark.docker
def test_a_corrupt_build_is_removed_and_retried(tiny) -> None:  # noqa: ANN001
    broken: list[str] = []

    def flaky(stand_in: StandIn, digest: str, say: Callable[[str], None]) -> None:
        if not broken:
            # A broken attempt: an image of ours under the name, without the recipe.
            label = f'LABEL {standins.LABEL_STAND_IN}="broken"'
            engine.import_tar(b"\0" * 10240, tiny.repository, tiny.tags[0], [label])
            broken.append(engine.image_id(tiny.name) or "")
            return
        standin_build._build_busybox(stand_in, digest, say)

    lines: list[str] = []
    assert build_one(tiny, _say(lines), builder=flaky) is True
    assert broken and broken[0]
    assert any("lo intento de nuevo" in line for line in lines)
    labels = engine.image_labels(tiny.name) or {}
    assert labels[LABEL_RECIPE] == recipe_digest(tiny)
    assert engine.image_id(tiny.name) != broken[0]
    # The broken image is gone, not left dangling beside the good one.
    assert engine.image_id(broken[0]) is None


@pytest.mark.docker
def test_a_build_that_keeps_failing_leaves_the_previous_image(tiny) -> None:  # noqa: ANN001
    build_one(tiny, lambda _line: None)
    good = engine.image_id(tiny.name)

    def broken(stand_in: StandIn, digest: str, say: Callable[[str], None]) -> None:
        raise CourseImageError("mmdebstrap: E: no hay red")

    with pytest.raises(CourseImageError):
        build_one(tiny, lambda _line: None, force=True, builder=broken)
    assert engine.image_id(tiny.name) == good


@pytest.mark.docker
def test_an_official_image_under_the_name_is_kept(tiny) -> None:  # noqa: ANN001
    # What `docker pull` leaves where Docker Hub answers: an image not built by Muelle.
    engine.import_tar(b"\0" * 10240, tiny.repository, tiny.tags[0], ['CMD ["sh"]'])
    official = engine.image_id(tiny.name)
    lines: list[str] = []
    assert build_one(tiny, _say(lines)) is False
    assert engine.image_id(tiny.name) == official
    assert f"{tiny.name}: está la imagen oficial; no la sustituyo" in lines


@pytest.mark.docker
def test_a_build_container_left_by_a_killed_build_is_removed_and_nothing_else(
    tiny,  # noqa: ANN001
) -> None:
    build_label = {"muelle.build": "stand-in"}
    orphan = engine.call_sync(
        lambda api: api.create_container(
            "busybox:1.35",
            command=["true"],
            name=f"{engine.BUILD_CONTAINER_PREFIX}{secrets.token_hex(4)}",
            labels=build_label,
        )
    )["Id"]
    # What a student runs from a stand-in (their nginx, mariadb…): a commit keeps the build
    # container's labels in the image, so it carries the same label. It must live on.
    students = engine.call_sync(
        lambda api: api.create_container("busybox:1.35", command=["true"], labels=build_label)
    )["Id"]
    try:
        lines: list[str] = []
        assert standin_build.build_stand_ins(_say(lines), stand_ins=(tiny,)) == [tiny.name]
        assert "Borrados los restos de una construcción interrumpida." in lines
        left = engine.call_sync(lambda api: api.containers(all=True, filters={"id": orphan}))
        assert left == []
        kept = engine.call_sync(lambda api: api.containers(all=True, filters={"id": students}))
        assert [item["Id"] for item in kept] == [students]
    finally:
        engine.call_sync(lambda api: api.remove_container(students, force=True))


@pytest.mark.docker
def test_a_students_untagged_image_built_from_a_stand_in_is_left_alone(tiny) -> None:  # noqa: ANN001
    # `FROM nginx` (a stand-in) passes the stand-in's labels on; the gateway adds the student's.
    changes = [f'LABEL {standins.LABEL_STAND_IN}="nginx"', 'LABEL muelle.student="alumna"']
    result = engine.call_sync(
        lambda api: api.import_image_from_data(b"\0" * 10240, changes=changes)
    )
    students = json.loads(result.splitlines()[-1])["status"]
    try:
        standin_build.build_stand_ins(lambda _line: None, stand_ins=(tiny,))
        assert engine.image_id(students) is not None
    finally:
        engine.call_sync(lambda api: api.remove_image(students, force=True))


@pytest.mark.docker
def test_an_untagged_superseded_stand_in_is_removed(tiny) -> None:  # noqa: ANN001
    label = f'LABEL {standins.LABEL_STAND_IN}="superseded"'
    result = engine.call_sync(
        lambda api: api.import_image_from_data(b"\0" * 10240, changes=[label])
    )
    superseded = json.loads(result.splitlines()[-1])["status"]
    assert engine.image_id(superseded) is not None
    standin_build.build_stand_ins(lambda _line: None, stand_ins=(tiny,))
    assert engine.image_id(superseded) is None


@pytest.mark.docker
def test_a_layer_of_a_students_build_under_way_is_left_alone(tiny) -> None:  # noqa: ANN001
    """Between two steps of a student's `docker build` FROM a stand-in, its newest layer is
    untagged, unused and without the student's label (added by the build's last step): a
    stand-in build at that moment removed it, and the student's build failed with "failed to
    get digest" (seen in CI, a stand-in test beside a course build)."""
    standin_build.build_stand_ins(lambda _line: None, stand_ins=(tiny,))
    step = engine.call_sync(
        lambda api: api.create_container(tiny.name, command=["sh", "-c", "echo paso > /paso"])
    )["Id"]
    try:
        engine.call_sync(lambda api: api.start(step))
        engine.call_sync(lambda api: api.wait(step, timeout=30))
        layer = engine.call_sync(lambda api: api.commit(step))["Id"]
    finally:
        engine.call_sync(lambda api: api.remove_container(step, force=True))
    try:
        labels = engine.image_labels(layer) or {}
        assert labels[standins.LABEL_STAND_IN] and "muelle.student" not in labels
        standin_build.build_stand_ins(lambda _line: None, stand_ins=(tiny,))
        assert engine.image_id(layer) is not None
    finally:
        engine.call_sync(lambda api: api.remove_image(layer, force=True))


@pytest.mark.docker
def test_reading_a_file_of_an_image_with_a_volume_leaves_no_volume() -> None:
    """The engine makes an image's VOLUME, filled from the image, as soon as a container is
    created: removing the container without its volumes left one behind per read (mariadb,
    postgres, wordpress and redis stand-ins all declare one; 221 had piled up here)."""
    marker = f"marca-{secrets.token_hex(6)}"
    source = engine.call_sync(
        lambda api: api.create_container(
            "muelle/busybox", command=["sh", "-c", f"mkdir /datos && echo hola > /datos/{marker}"]
        )
    )["Id"]
    engine.call_sync(lambda api: api.start(source))
    engine.call_sync(lambda api: api.wait(source, timeout=30))
    image = engine.call_sync(lambda api: api.commit(source, changes=["VOLUME /datos"]))["Id"]
    engine.call_sync(lambda api: api.remove_container(source, force=True))
    try:
        assert engine.read_image_file(image, f"/datos/{marker}") == b"hola\n"

        volumes = engine.call_sync(lambda api: api.volumes())["Volumes"] or []
        holding = [
            volume["Name"] for volume in volumes if (Path(volume["Mountpoint"]) / marker).exists()
        ]
        assert holding == []
    finally:
        engine.call_sync(lambda api: api.remove_image(image, force=True))
