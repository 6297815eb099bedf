"""`docker cp` into a container: the engine unpacks the tar as root into the container's files
and mounted volumes, so the gateway reads it as the engine would, refuses what could reach
further or make devices, and sends its own checked copy."""

from __future__ import annotations

import io
import os
import socket
import tarfile

import pytest

from sandbox.gateway.copy_archive import MAX_COPY_ARCHIVE, canonical, go_clean
from sandbox.gateway.errors import GatewayError

DEST = "/tmp"  # noqa: S108 (inside the test container)


def tar(*members: tuple[tarfile.TarInfo, bytes | None], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def members_of(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getmembers()


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("a/./b//c/", "a/b/c"),
        ("/etc/passwd", "etc/passwd"),
        ("/../../x", "x"),  # Go: Clean("/../../x") is "/x", joined under the destination
        ("../x", "../x"),
        ("a/../../x", "../x"),
        ("./", "."),
    ],
)
def test_names_are_cleaned_as_the_engine_cleans_them(name, cleaned):
    assert go_clean(name) == cleaned


@pytest.mark.parametrize(
    "archive",
    [
        tar((member("../fuera"), b"x")),
        tar((member("a/../../fuera"), b"x")),
        tar((member("dev", tarfile.CHRTYPE, devmajor=1, devminor=3), None)),
        tar((member("disco", tarfile.BLKTYPE, devmajor=8, devminor=0), None)),
        tar((member("tubo", tarfile.FIFOTYPE), None)),
        tar((member("enlace", tarfile.SYMTYPE, linkname="../../fuera"), None)),
        tar(
            (member("enlace", tarfile.SYMTYPE, linkname="/var/lib/docker"), None),
            (member("enlace/escrito"), b"x"),
        ),
        tar((member("duro", tarfile.LNKTYPE, linkname="../../etc/shadow"), None)),
        tar((member("a"), b"1"), (member("./a"), b"2")),
        tar((member("a/"), b""), (member("a", tarfile.DIRTYPE), None)),
        tar((member("a\nb"), b"x")),
        b"\x1f\x8b\x08" + b"\x00" * 100,  # compressed: the gateway writes plain tars only
        b"not a tar at all" * 64,
    ],
)
def test_what_could_reach_further_or_make_devices_is_refused(archive):
    with pytest.raises(GatewayError) as error:
        canonical(archive)
    assert error.value.status in (400, 403)
    assert "docker cp" in error.value.message


def test_the_gateway_writes_its_own_archive_without_xattrs_or_setuid():
    info = member("bin/herramienta", mode=0o6755, uid=0, gid=0)
    info.pax_headers = {
        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\xff\xff\xff\xff",
        "SCHILY.xattr.trusted.overlay.opaque": "y",
    }
    data, count = canonical(
        tar(
            (member("bin/", tarfile.DIRTYPE, mode=0o1777), None),
            (info, b"#!/bin/sh\n"),
            (member("bin/otro", tarfile.LNKTYPE, linkname="/bin/herramienta"), None),
            (member("bin/atajo", tarfile.SYMTYPE, linkname="/etc/hostname"), None),
        )
    )
    out = members_of(data)
    assert count == 4  # what the byte rate is charged for (copy_archive.MEMBER_COST)
    assert [(m.name, m.type) for m in out] == [
        ("bin", tarfile.DIRTYPE),
        ("bin/herramienta", tarfile.REGTYPE),
        ("bin/otro", tarfile.LNKTYPE),
        ("bin/atajo", tarfile.SYMTYPE),
    ]
    assert out[0].mode == 0o1777
    assert out[1].mode == 0o755
    assert not any(k.startswith("SCHILY") for m in out for k in m.pax_headers)
    assert out[2].linkname == "bin/herramienta"


@pytest.fixture
def running(student):
    return student.raw_started(["sleep", "120"])


def put(student, cid: str, archive: bytes, path: str = DEST) -> tuple[int, object]:
    return student.raw(
        "PUT",
        f"/v1.41/containers/{cid}/archive?path={path}",
        body=archive,
        headers={"Content-Type": "application/x-tar"},
    )


@pytest.mark.docker
def test_docker_cp_still_copies_files_both_ways(student, running, tmp_path):
    folder = tmp_path / "datos"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "hola.txt").write_text("¡hola!\n")
    (folder / "enlace").symlink_to("sub/hola.txt")
    student.ok("cp", str(folder), f"{running}:{DEST}/")
    assert student.ok("exec", running, "cat", f"{DEST}/datos/enlace") == "¡hola!\n"
    student.ok("cp", f"{running}:{DEST}/datos/sub/hola.txt", str(tmp_path / "vuelta.txt"))
    assert (tmp_path / "vuelta.txt").read_text() == "¡hola!\n"


@pytest.mark.docker
def test_a_device_node_is_refused_and_nothing_is_created(student, running):
    status, answer = put(
        student, running, tar((member("mem", tarfile.CHRTYPE, devmajor=1, devminor=1), None))
    )
    assert status == 403
    assert "dispositivos" in answer["message"]
    assert student.docker("exec", running, "ls", f"{DEST}/mem").returncode != 0


@pytest.mark.docker
def test_setuid_bits_and_capabilities_do_not_reach_the_container(student, running):
    info = member("suid", mode=0o4755)
    info.pax_headers = {"SCHILY.xattr.user.muelle": "x"}
    assert put(student, running, tar((info, b"#!/bin/sh\n")))[0] == 200
    assert student.ok("exec", running, "stat", "-c", "%a", f"{DEST}/suid").strip() == "755"


@pytest.mark.docker
def test_writing_through_a_symlink_of_the_same_archive_is_refused(student, running):
    archive = tar(
        (member("salto", tarfile.SYMTYPE, linkname="/etc"), None),
        (member("salto/escrito"), b"x"),
    )
    status, answer = put(student, running, archive)
    assert status == 403
    assert "enlace simbólico" in answer["message"]
    assert student.docker("exec", running, "ls", "/etc/escrito").returncode != 0
    assert student.docker("exec", running, "ls", f"{DEST}/salto").returncode != 0


@pytest.mark.docker
def test_the_cli_shows_the_refusal_of_a_named_pipe(student, running, tmp_path):
    pipe = tmp_path / "tubo"
    os.mkfifo(pipe)
    stderr = student.refused("cp", str(pipe), f"{running}:{DEST}/")
    assert "tuberías con nombre" in stderr
    assert student.docker("exec", running, "ls", f"{DEST}/tubo").returncode != 0


@pytest.mark.docker
def test_an_archive_over_the_cap_is_refused_before_it_is_read(student, running):
    size = MAX_COPY_ARCHIVE + 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(student.socket))
        sock.sendall(
            f"PUT /v1.41/containers/{running}/archive?path={DEST} HTTP/1.1\r\nHost: docker\r\n"
            f"Content-Type: application/x-tar\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        # Head and body may come in separate packets: read until the gateway closes.
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert f"máximo {MAX_COPY_ARCHIVE} bytes" in answer
