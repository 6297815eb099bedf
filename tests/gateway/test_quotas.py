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


def test_imports_sent_at_once_stay_within_the_image_quota(student, tmp_path):
    # The quota was checked under the student's lock and the import made after it: imports
    # sent at the same moment all passed the check (11 images against a quota of 8).
    import io
    import tarfile
    from concurrent.futures import ThreadPoolExecutor

    archive = tmp_path / "poco.tar"
    with tarfile.open(archive, "w") as tar:
        member = tarfile.TarInfo("hola.txt")
        member.size = 5
        tar.addfile(member, io.BytesIO(b"hola\n"))
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda n: student.docker("import", str(archive), f"a-la-vez-{n}"), range(8))
        )
    assert sum(r.returncode == 0 for r in results) == 3
    refusals = [r.stderr for r in results if r.returncode != 0]
    assert len(refusals) == 5
    assert all("máximo de 3 imágenes propias" in error for error in refusals)
    assert len(student.ok("images", "-q", "--filter", "reference=a-la-vez-*").split()) == 3
