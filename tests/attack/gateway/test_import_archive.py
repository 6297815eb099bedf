"""`docker import` of a hostile tar: the engine turns the archive into an image layer as it
is, so the gateway sends its own checked copy (sandbox/gateway/copy_archive.py), as for
`docker cp`. Extended attributes (`trusted.overlay.*`, `user.*`) and setuid bits never reach
the layer on the host, devices are refused in Spanish, and a compressed tar or a `docker
export` still imports. What the layer holds is read on the host, where the engine put it."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sandbox.gateway import copy_archive
from sandbox.gateway.errors import GatewayError
from tests.gateway.engine_side import ENGINE_SOCKET, raw_request

pytestmark = pytest.mark.docker


def _layer_folder(student: Any, image: str) -> Path:
    image_id = student.ok("image", "inspect", "-f", "{{.Id}}", image).strip()
    status, info = raw_request(ENGINE_SOCKET, "GET", f"/images/{image_id}/json")
    assert status == 200
    return Path(info["GraphDriver"]["Data"]["UpperDir"])


def _file(
    name: str, data: bytes, mode: int = 0o644, pax: dict[str, str] | None = None
) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    info.pax_headers = pax or {}
    return info, io.BytesIO(data)


def test_xattrs_and_setuid_never_reach_the_layer(student: Any, tmp_path: Path) -> None:
    archive = tmp_path / "raiz.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(
            *_file(
                "bin/x",
                b"#!/bin/sh\n",
                0o4755,
                {"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.muelle": "1"},
            )
        )
        tar.addfile(*_file("normal.txt", b"hola\n"))
    student.ok("import", str(archive), "con-atributos")

    layer = _layer_folder(student, "con-atributos")
    assert (layer / "normal.txt").read_bytes() == b"hola\n"
    shipped = layer / "bin" / "x"
    assert shipped.read_bytes() == b"#!/bin/sh\n"
    assert os.stat(shipped).st_mode & 0o7777 == 0o755  # no setuid
    assert os.listxattr(shipped) == []


def test_a_device_in_the_archive_is_refused(student: Any, tmp_path: Path) -> None:
    archive = tmp_path / "dispositivo.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("dev/sda-falso")
        info.type, info.devmajor, info.devminor = tarfile.BLKTYPE, 8, 0
        tar.addfile(info)
    error = student.refused("import", str(archive), "con-dispositivo")
    assert "docker import no puede crear dispositivos" in error
    assert "con-dispositivo" not in student.ok("images", "--format", "{{.Repository}}")


def test_a_compressed_tar_and_a_docker_export_still_import(student: Any, tmp_path: Path) -> None:
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        tar.addfile(*_file("dato.txt", b"comprimido\n"))
    (tmp_path / "raiz.tar.gz").write_bytes(gzip.compress(plain.getvalue()))
    student.ok("import", str(tmp_path / "raiz.tar.gz"), "comprimida")
    assert (_layer_folder(student, "comprimida") / "dato.txt").read_bytes() == b"comprimido\n"

    student.ok(
        "run",
        "--name",
        "origen",
        "-m",
        "32m",
        "muelle/busybox",
        "sh",
        "-c",
        "echo exportado > /dato",
    )
    student.ok("export", "-o", str(tmp_path / "origen.tar"), "origen")
    student.ok("import", str(tmp_path / "origen.tar"), "reimportada")
    out = student.ok("run", "--rm", "-m", "32m", "reimportada", "cat", "/dato")
    assert out == "exportado\n"


def test_a_compressed_archive_whose_files_exceed_the_limit_is_refused(
    student: Any, tmp_path: Path
) -> None:
    # A header announcing 2 GiB of file (past DOCKER_GATEWAY_IMPORT_MAX, 1 GiB): a small
    # compressed archive can unfold into terabytes, which the gateway would write to disk.
    header = tarfile.TarInfo("ceros.bin")
    header.size = 2 * 1024**3
    (tmp_path / "bomba.tar.gz").write_bytes(gzip.compress(header.tobuf() + bytes(1 << 20)))
    error = student.refused("import", str(tmp_path / "bomba.tar.gz"), "bomba")
    assert "sin comprimir" in error


def test_a_broken_compressed_archive_is_refused_in_spanish(student: Any, tmp_path: Path) -> None:
    # Broken past its first file: the error comes while the archive is read, not when it opens.
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        for index in range(3):
            tar.addfile(*_file(f"dato{index}", os.urandom(20000)))
    broken = bytearray(lzma.compress(plain.getvalue()))
    middle = len(broken) // 2
    broken[middle : middle + 20] = bytes(20)
    (tmp_path / "rota.tar.xz").write_bytes(bytes(broken))
    error = student.refused("import", str(tmp_path / "rota.tar.xz"), "rota")
    assert "no es un tar válido" in error


def test_a_huge_header_record_is_refused_before_it_is_read(student: Any, tmp_path: Path) -> None:
    # A PAX record announcing 400 MiB: tarfile would read it whole into the server's memory.
    record = tarfile.TarInfo("././@PaxHeader")
    record.type, record.size = tarfile.XHDTYPE, 400 * 1024**2
    (tmp_path / "cabecera.tar.gz").write_bytes(gzip.compress(record.tobuf() + bytes(1 << 20)))
    error = student.refused("import", str(tmp_path / "cabecera.tar.gz"), "cabecera")
    assert "cabecera enorme" in error


def test_an_archive_with_too_many_members_is_refused(tmp_path: Path, monkeypatch) -> None:
    # Each member stays in memory while the archive is read: their number is capped (here
    # lowered, so that the test needs a dozen files, not 200,000).
    monkeypatch.setattr(copy_archive, "MAX_IMPORT_MEMBERS", 10)
    with tarfile.open(tmp_path / "muchos.tar", "w") as tar:
        for index in range(11):
            tar.addfile(*_file(f"f{index}", b"x"))
    with pytest.raises(GatewayError) as refused:
        copy_archive.canonical_file(
            str(tmp_path / "muchos.tar"), str(tmp_path / "out.tar"), 1 << 30
        )
    assert refused.value.status == 413 and "más de 10 ficheros" in refused.value.message
