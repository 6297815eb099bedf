"""When a sandbox ends, everything its student made goes; the reaper catches what a crash left."""

from __future__ import annotations

import pytest

from sandbox.gateway import lifecycle
from sandbox.gateway.cleanup import cleanup_student, sweep_orphans

from .conftest import IMAGE

pytestmark = pytest.mark.docker


def make_everything(student, folder) -> None:
    student.ok("run", "-d", "--name", "web", "-v", "datos:/d", IMAGE, "sleep", "300")
    student.ok("network", "create", "red")
    student.ok("tag", IMAGE, "mio")
    (folder / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo x > /x\n")
    student.ok("build", "-q", "-t", "app", str(folder))
    objects = student.engine_objects()
    assert all(objects[kind] for kind in ("containers", "volumes", "networks", "images"))


def test_cleanup_removes_everything_and_keeps_course_images(student, tmp_path, gateway_loop):
    make_everything(student, tmp_path)
    report = gateway_loop.run(cleanup_student(student.owner))
    assert report.errors == []
    assert (report.containers, report.volumes, report.networks) == (1, 1, 1)
    assert report.images >= 2
    assert student.engine_objects() == {
        "containers": [],
        "volumes": [],
        "networks": [],
        "images": [],
    }
    assert student.ok("images", "-q", IMAGE)  # the course image is still there


def test_sweep_cleans_students_without_a_live_sandbox_only(
    student, other_student, tmp_path, gateway_loop
):
    make_everything(student, tmp_path)
    other_student.ok("volume", "create", "sigue")
    # A crash: the gateway went away without cleaning up.
    gateway_loop.run(lifecycle.close_gateway(student.owner, cleanup=False))
    assert student.engine_objects()["containers"]
    cleaned = gateway_loop.run(sweep_orphans([other_student.owner]))
    assert student.owner in cleaned
    assert other_student.owner not in cleaned
    assert not any(student.engine_objects().values())
    assert other_student.ok("volume", "ls", "-q") == "sigue\n"
