"""A student sees and touches only their own objects; names never collide between students."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import pytest

from .conftest import DOCKER, IMAGE

pytestmark = pytest.mark.docker

# One line per event: what, done, to whom (a volume's name is its ID; the rest have a name).
FORMAT = (
    "{{.Type}} {{.Action}} "
    "{{if .Actor.Attributes.name}}{{.Actor.Attributes.name}}{{else}}{{.Actor.ID}}{{end}}"
)


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
            FORMAT + " {{json .Actor}}",
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

    def read_until(*prefixes: str) -> None:
        # Container events and network/volume events come by two streams of the engine: each
        # awaited on its own, whatever their order.
        while not all(any(line.startswith(p) for line in seen) for p in prefixes):
            seen.append(lines.get(timeout=60))  # a bound, not a speed assertion

    try:
        read_until("container create senal")
        # The other student's networks and volumes reach the gateway in the same engine stream
        # as the student's own (the engine gives them no labels to filter on), before them.
        other_student.ok("network", "create", "ajena-red")
        other_student.ok("volume", "create", "ajeno-vol")
        other_student.ok("run", "--rm", "--name", "ajeno", IMAGE, "true")
        student.ok("network", "create", "propia-red")
        student.ok("volume", "create", "propio-vol")
        student.ok("run", "--rm", "--name", "propio", IMAGE, "true")
        student.ok("network", "rm", "propia-red")
        student.ok("volume", "rm", "propio-vol")
        read_until(
            "container destroy propio",
            "network destroy propia-red",
            "volume destroy propio-vol",
        )
    finally:
        watcher.kill()
        watcher.wait()
        other_student.ok("network", "rm", "ajena-red")
        other_student.ok("volume", "rm", "ajeno-vol")
    text = "".join(seen)
    assert "container start propio" in text
    assert "network create propia-red" in text
    assert "volume create propio-vol" in text
    assert "ajen" not in text and "ajeno" not in text
    assert "muelle.student" not in text

    # A bounded replay has them too, and the engine's own filters still apply to them.
    until = str(int(time.time()) + 1)
    replay = student.ok("events", "--since", since, "--until", until, "--format", FORMAT)
    assert "network create propia-red" in replay and "volume destroy propio-vol" in replay
    assert "container destroy propio" in replay and "ajen" not in replay
    only_volumes = student.ok(
        "events", "--since", since, "--until", until, "--filter", "type=volume", "--format", FORMAT
    )
    assert only_volumes.split("\n")[:-1] == [
        "volume create propio-vol",
        "volume destroy propio-vol",
    ]
    of_a_container = student.ok(
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        "container=senal",
        "--format",
        FORMAT,
    )
    assert of_a_container == "container create senal\n"
