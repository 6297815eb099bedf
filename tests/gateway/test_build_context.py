"""Build contexts: read as the engine reads them, or refused; the engine gets the re-emitted tar.

Hand-made tars, sent raw (the CLI would never write them): each trick is refused before the
engine sees anything, and leaves nothing behind (the student fixture checks on teardown).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile

import pytest

from sandbox.gateway import build_context
from sandbox.gateway.errors import GatewayError

from .conftest import IMAGE
from .test_build_differential import inspect_image, post_build

HARMLESS = f"FROM {IMAGE}\nRUN echo inofensivo\n".encode()
EVIL = b"FROM 127.0.0.1:5000/x\nRUN echo malvado\n"


def tar(*members: tuple[str, bytes | None, str]) -> bytes:
    """Members as (name, content, kind): kind "f" file, "d" folder, "s"/"h" sym/hard link
    (content is then the link's target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as archive:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "d":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind in ("s", "h"):
                info.type = tarfile.SYMTYPE if kind == "s" else tarfile.LNKTYPE
                info.linkname = (content or b"").decode()
                archive.addfile(info)
            else:
                data = content or b""
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def refusal(data: bytes, wanted: str = "Dockerfile") -> str:
    with pytest.raises(GatewayError) as error:
        context = build_context.read(data)
        build_context.find_dockerfile(context, wanted)
    return error.value.message


@pytest.mark.parametrize(
    ("members", "wanted", "why"),
    [
        ((("Dockerfile", HARMLESS, "f"), ("x/../Dockerfile", EVIL, "f")), "Dockerfile", "«..»"),
        ((("Dockerfile", HARMLESS, "f"), ("./Dockerfile", EVIL, "f")), "Dockerfile", "dos veces"),
        ((("Dockerfile", HARMLESS, "f"), ("Dockerfile/", None, "d")), "Dockerfile", "dos veces"),
        ((("/Dockerfile", EVIL, "f"),), "Dockerfile", "absoluta"),
        ((("../Dockerfile", EVIL, "f"),), "Dockerfile", "«..»"),
        ((("real", EVIL, "f"), ("Dockerfile", b"real", "s")), "Dockerfile", "no un enlace"),
        ((("real", EVIL, "f"), ("Dockerfile", b"real", "h")), "Dockerfile", "no un enlace"),
        ((("d", b"e", "s"), ("d/Dockerfile", EVIL, "f")), "d/Dockerfile", "no es una carpeta"),
        ((("Dockerfile", HARMLESS, "f"), ("fuera", b"../../etc", "s")), "Dockerfile", "fuera"),
        ((("Dockerfile", HARMLESS, "f"), ("fuera", b"/etc/passwd", "s")), "Dockerfile", "fuera"),
        (
            (("Dockerfile", HARMLESS, "f"), ("d", b".", "s"), ("s", b"d/..", "s")),
            "Dockerfile",
            "fuera",
        ),
        ((("Dockerfile", HARMLESS, "f"), ("l", b"../x", "h")), "Dockerfile", "fuera"),
        ((("Dockerfile", HARMLESS, "f"),), "../Dockerfile", "dentro del contexto"),
        ((("Dockerfile", HARMLESS, "f"),), "/etc/passwd", "dentro del contexto"),
        ((("Dockerfile/x", HARMLESS, "f"), ("dockerfile", EVIL, "f")), "Dockerfile", "carpeta"),
    ],
)
def test_contexts_the_engine_could_read_another_way_are_refused(members, wanted, why):
    assert why in refusal(tar(*members), wanted)


def test_devices_and_fifos_are_refused():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as archive:
        archive.addfile(tarfile.TarInfo("Dockerfile"), io.BytesIO(b""))
        fifo = tarfile.TarInfo("tubo")
        fifo.type = tarfile.FIFOTYPE
        archive.addfile(fifo)
    assert "ni un enlace" in refusal(out.getvalue())


def test_names_are_normalised_and_the_fallback_is_the_engine_s():
    context = build_context.read(tar(("./sub//", None, "d"), ("./sub/./dockerfile", HARMLESS, "f")))
    assert [m.name for m in context.members] == ["sub", "sub/dockerfile"]
    assert build_context.find_dockerfile(context, "sub/dockerfile").name == "sub/dockerfile"
    lower = build_context.read(tar(("dockerfile", HARMLESS, "f")))
    assert build_context.find_dockerfile(lower, "Dockerfile").name == "dockerfile"
    with pytest.raises(GatewayError):  # the fallback is only for the default name
        build_context.find_dockerfile(lower, "./Dockerfile")


def test_links_inside_the_context_are_kept_in_the_re_emitted_tar():
    context = build_context.read(
        tar(
            ("Dockerfile", HARMLESS, "f"),
            ("lib", None, "d"),
            ("lib/a", b"a", "f"),
            ("enlace", b"lib/a", "s"),
            ("lib/sube", b"../lib/a", "s"),
            ("duro", b"lib/a", "h"),
        )
    )
    member = build_context.find_dockerfile(context, "Dockerfile")
    rebuilt = build_context.rebuild(context, member, b"FROM x\n")
    with tarfile.open(fileobj=io.BytesIO(rebuilt)) as archive:
        kinds = {m.name: (m.type, m.linkname) for m in archive.getmembers()}
        assert archive.extractfile("Dockerfile").read() == b"FROM x\n"
    assert kinds["enlace"] == (tarfile.SYMTYPE, "lib/a")
    assert kinds["lib/sube"] == (tarfile.SYMTYPE, "../lib/a")
    assert kinds["duro"] == (tarfile.LNKTYPE, "lib/a")


def test_a_pax_global_header_cannot_rename_a_member():
    """Python applies a global `path` record to later members with a local PAX header; Go
    does not. The engine only ever sees the names the gateway parsed."""
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w:", format=tarfile.PAX_FORMAT, pax_headers={"path": "Dockerfile"}
    ) as archive:
        info = tarfile.TarInfo("otro")
        info.size = len(EVIL)
        info.pax_headers = {"comment": "x"}
        archive.addfile(info, io.BytesIO(EVIL))
    context = build_context.read(out.getvalue())
    member = build_context.find_dockerfile(context, context.members[0].name)
    rebuilt = build_context.rebuild(context, member, b"checked\n")
    with tarfile.open(fileobj=io.BytesIO(rebuilt)) as archive:
        assert archive.pax_headers == {}
        [only] = archive.getmembers()
        assert archive.extractfile(only).read() == b"checked\n"


@pytest.mark.docker
def test_the_dotdot_dockerfile_context_is_refused_and_leaves_nothing(student):
    data = tar(("Dockerfile", HARMLESS, "f"), ("x/../Dockerfile", EVIL, "f"))
    built = post_build(str(student.socket), data, "t=trampa")
    assert built.status == 403 and "«..»" in built.error
    assert student.engine_objects()["images"] == []


@pytest.mark.docker
@pytest.mark.parametrize(
    "query",
    [
        "remote=https://example.com/repo.git",
        "remote=git%40github.com%3Aa%2Fb.git",
        "dockerfile=..%2Fotro",
        "dockerfile=%2Fetc%2Fpasswd",
        "platform=linux%2Farm64",
    ],
)
def test_query_parameters_naming_something_else_are_refused(student, query):
    built = post_build(str(student.socket), tar(("Dockerfile", HARMLESS, "f")), query)
    assert built.status in (400, 403), built
    assert built.image is None
    assert student.engine_objects()["images"] == []


@pytest.mark.docker
@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress],
    ids=["gzip", "bzip2", "xz"],
)
def test_compressed_contexts_build_what_was_checked(student, gateway_config, compress):
    data = compress(tar(("Dockerfile", HARMLESS, "f")))
    built = post_build(str(student.socket), data, "t=comprimida")
    assert built.image, built
    assert "inofensivo" in built.log
    history = inspect_image(gateway_config.engine_socket, f"/images/{built.image}/history")
    assert any(h["CreatedBy"].endswith("echo inofensivo") for h in history)
    student.ok("rmi", "comprimida")


@pytest.mark.docker
def test_a_damaged_compressed_context_is_a_clear_error(student):
    built = post_build(str(student.socket), b"\x1f\x8b\x08" + b"\x00" * 40, "")
    assert built.status == 400 and "dañado" in built.error


@pytest.mark.docker
def test_dockerignore_cannot_drop_or_swap_the_checked_dockerfile(student, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo la-comprobada\n")
    (tmp_path / "dockerfile").write_text("FROM 127.0.0.1:5000/x\n")
    (tmp_path / ".dockerignore").write_text("Dockerfile\n.dockerignore\n*\n")
    out = student.ok("build", "-t", "ignorada", str(tmp_path))
    assert "la-comprobada" in out
    student.ok("rmi", "ignorada")


@pytest.mark.docker
def test_a_dockerfile_outside_the_context_given_with_f_still_works(student, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "saludo.txt").write_text("hola\n")
    (tmp_path / "Otro.dockerfile").write_text(f"FROM {IMAGE}\nCOPY saludo.txt /\n")
    out = student.ok("build", "-t", "fuera", "-f", str(tmp_path / "Otro.dockerfile"), str(context))
    assert "Successfully tagged fuera:latest" in out
    student.ok("rmi", "fuera")


def test_a_tar_cut_inside_a_file_is_refused_but_a_missing_end_is_not():
    whole = tar(("Dockerfile", HARMLESS, "f"))
    data_end = 512 + len(HARMLESS)  # one PAX-free header, then the content
    assert "no es un archivo tar válido" in refusal(whole[: data_end - 5])
    context = build_context.read(whole[:data_end])  # as the CLI's `-f` outside the context
    assert build_context.content(context, context.members[0]) == HARMLESS
