"""Per-student quotas (tests use 4 containers, 3 images, 3 volumes, 2 networks, 160 MiB)."""

from __future__ import annotations

import pytest

from .conftest import IMAGE

pytestmark = pytest.mark.docker


def test_container_count_quota(student):
    for index in range(4):
        student.ok("create", "-m", "16m", "--name", f"c{index}", IMAGE, "true")
    error = student.refused("create", "-m", "16m", "--name", "c4", IMAGE, "true")
    assert "máximo de 4 contenedores" in error
    assert len(student.engine_objects()["containers"]) == 4


def test_total_memory_quota(student):
    student.ok("create", "--name", "a", IMAGE, "true")  # 64 MiB each by default
    student.ok("create", "--name", "b", IMAGE, "true")
    error = student.refused("create", "--name", "c", IMAGE, "true")
    assert "el máximo en Muelle es 160 MiB en total" in error
    student.ok("create", "-m", "32m", "--name", "d", IMAGE, "true")
    assert len(student.engine_objects()["containers"]) == 3


def test_volume_quota_also_covers_volumes_made_by_run(student):
    for name in ("v1", "v2", "v3"):
        student.ok("volume", "create", name)
    assert "máximo de 3 volúmenes" in student.refused("volume", "create", "v4")
    assert "máximo de 3 volúmenes" in student.refused("run", "--rm", "-v", "v5:/x", IMAGE, "true")
    objects = student.engine_objects()
    assert len(objects["volumes"]) == 3 and objects["containers"] == []


def test_network_quota(student):
    student.ok("network", "create", "n1")
    student.ok("network", "create", "n2")
    assert "máximo de 2 redes" in student.refused("network", "create", "n3")


def test_image_quota(student):
    for name in ("i1", "i2", "i3"):
        student.ok("tag", IMAGE, name)
    assert "máximo de 3 imágenes propias" in student.refused("tag", IMAGE, "i4")
    assert student.ok("images", "-q", "i3")
