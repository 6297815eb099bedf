"""A student sees and touches only their own objects; names never collide between students."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import pytest

from .conftest import DOCKER, IMAGE

pytestmark = pytest.mark.docker


def not_found(error: str) -> bool:
    # The gateway says "No existe ..."; for some 404s the CLI prints its own "No such ...".
    return "No existe" in error or "No such" in error


@pytest.fixture
def alice_objects(student, tmp_path):
    cid = student.ok(
        "run", "-d", "--name", "web", "-v", "datos:/datos", IMAGE, "sleep", "300"
    ).strip()
    student.ok("network", "create", "red")
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo alicia > /quien\n")
    student.ok("build", "-q", "-t", "app", str(tmp_path))
    image_id = student.ok("images", "-q", "app").strip()
    return cid, image_id


def test_lists_show_only_the_students_own_objects(student, other_student, alice_objects):
    bob = other_student
    assert bob.ok("ps", "-aq") == ""
    assert bob.ok("volume", "ls", "-q") == ""
    assert bob.ok("network", "ls", "-q") == ""
    bob_images = bob.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert "app:latest" not in bob_images
    # Only the course's images (muelle/* and the stand-ins under their real names, labelled
    # muelle.course=1 on the engine): nothing of Alice's.
    course = subprocess.run(
        [
            DOCKER,
            "images",
            "--filter",
            "label=muelle.course=1",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"DOCKER_HOST": "unix:///var/run/docker.sock", "PATH": "/usr/bin:/bin"},
    ).stdout.split()
    assert bob_images
    assert all(name in course or name.startswith("muelle/") for name in bob_images)
    assert student.ok("ps", "-a", "--format", "{{.Names}}").split() == ["web"]
    assert bob.ok("info", "--format", "{{.Containers}}").strip() == "0"


def test_another_students_container_is_not_found_by_name_or_id(
    student, other_student, alice_objects
):
    cid, _image = alice_objects
    bob = other_student
    for ref in ("web", cid, cid[:12], cid[:3]):
        for command in (
            ["inspect", ref],
            ["logs", ref],
            ["exec", ref, "true"],
            ["stop", ref],
            ["rm", ref],
            ["kill", ref],
        ):
            error = bob.refused(*command)
            assert not_found(error), (command, error)
    assert student.ok("inspect", "--format", "{{.State.Running}}", "web").strip() == "true"


def test_another_students_volume_network_and_image_are_not_found(
    student, other_student, alice_objects
):
    _cid, image_id = alice_objects
    bob = other_student
    assert not_found(bob.refused("volume", "inspect", "datos"))
    assert not_found(bob.refused("volume", "rm", "datos"))
    assert not_found(bob.refused("network", "inspect", "red"))
    assert not_found(bob.refused("network", "rm", "red"))
    assert bob.refused("image", "inspect", "app")
    assert not_found(bob.refused("rmi", image_id))
    assert bob.refused("run", "--rm", image_id, "true")
    assert bob.refused("run", "--rm", "-v", "datos:/x", "--network", "red", IMAGE, "true")
    assert student.ok("volume", "ls", "-q").split() == ["datos"]
    assert student.ok("run", "--rm", "app", "cat", "/quien") == "alicia\n"


def test_the_same_names_work_for_two_students_at_once(student, other_student, alice_objects):
    bob = other_student
    bob.ok("run", "-d", "--name", "web", IMAGE, "sleep", "300")
    bob.ok("volume", "create", "datos")
    bob.ok("network", "create", "red")
    assert bob.ok("ps", "--format", "{{.Names}}").split() == ["web"]
    bob.ok("rm", "-f", "web")
    assert student.ok("ps", "--format", "{{.Names}}").split() == ["web"]


def test_events_show_only_the_students_own_objects(student, other_student):
    # The watcher replays from before the student's first object, so reading that object's
    # event proves the stream is live before the other student does anything.
    since = str(int(time.time()) - 1)  # the engine runs on this machine: same clock
    student.ok("create", "--name", "senal", IMAGE, "true")
    watcher = subprocess.Popen(
        [
            DOCKER,
            "events",
            "--since",
            since,
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}} {{json .Actor}}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=student.env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True
    ).start()
    seen: list[str] = []

    def read_until(prefix: str) -> None:
        while not (seen and seen[-1].startswith(prefix)):
            seen.append(lines.get(timeout=60))  # a bound, not a speed assertion

    try:
        read_until("create senal")
        other_student.ok("run", "--rm", "--name", "ajeno", IMAGE, "true")
        student.ok("run", "--rm", "--name", "propio", IMAGE, "true")
        read_until("destroy propio")  # live stream: ends with our container's destroy event
    finally:
        watcher.kill()
        watcher.wait()
    text = "".join(seen)
    assert "start propio" in text
    assert "ajeno" not in text
    assert "muelle.student" not in text
