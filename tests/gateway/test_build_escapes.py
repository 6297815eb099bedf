"""The `docker build` escapes found by an attacker's run, each with the real CLI: refused, nothing
fetched (a loopback listener counts connections), nothing left behind (the student fixture
checks on teardown). Also the build options that now behave as the engine's (--add-host,
--cache-from) and ONBUILD triggers in a student's own base image.
"""

from __future__ import annotations

import io
import json
import tarfile
from urllib.parse import quote

import pytest

from sandbox.gateway.names import Namespace, parse_image_ref

from .conftest import IMAGE
from .listener import host_listener
from .test_build_differential import call, post_build

pytestmark = pytest.mark.docker

# Separators the engine reads between a keyword and its arguments (`[\t\v\f\r ]+`).
ODD_SEPARATORS = pytest.mark.parametrize("sep", ["\v", "\f", "\r", " \v\t"], ids=repr)


def write(folder, dockerfile: str) -> str:
    (folder / "Dockerfile").write_bytes(dockerfile.encode())
    return str(folder)


@ODD_SEPARATORS
def test_add_of_a_loopback_url_after_an_odd_separator_is_refused(student, tmp_path, sep):
    with host_listener("127.0.0.1") as listener:
        context = write(
            tmp_path, f"FROM {IMAGE}\nADD{sep}http://127.0.0.1:{listener.port}/x /x\nRUN cat /x\n"
        )
        error = student.refused("build", "-t", "trampa", context)
    assert "Dockerfile, línea 2" in error and "ADD solo copia ficheros del contexto" in error
    assert listener.connections == []
    assert student.engine_objects()["images"] == []


@ODD_SEPARATORS
def test_from_a_loopback_registry_after_an_odd_separator_is_refused(student, tmp_path, sep):
    with host_listener("127.0.0.1") as listener:
        context = write(tmp_path, f"FROM{sep}127.0.0.1:{listener.port}/x\nRUN true\n")
        error = student.refused("build", context)
    assert "Dockerfile, línea 1" in error and "no está en Muelle" in error
    assert listener.connections == []


def test_from_another_student_s_image_after_an_odd_separator_is_refused(
    student, other_student, tmp_path
):
    other_folder = tmp_path / "otro"
    other_folder.mkdir()
    write(other_folder, f"FROM {IMAGE}\nRUN echo secreto-de-otro > /secreto\n")
    other_student.ok("build", "-t", "privada", str(other_folder))
    engine_name = Namespace(other_student.owner, other_student.config.instance).own_image_ref(
        parse_image_ref("privada")
    )
    mine = tmp_path / "mio"
    mine.mkdir()
    for sep in ("\v", "\f", "\r", " \v\t"):
        for token in ("privada", engine_name):
            write(mine, f"FROM{sep}{token}\nRUN cat /secreto\n")
            assert "no está en Muelle" in student.refused("build", str(mine))
    assert student.engine_objects()["images"] == []
    other_student.ok("rmi", "privada")


def test_copy_from_the_current_stage_is_refused_as_the_engine_would_pull_it(student, tmp_path):
    # The engine only knows stages that ended: `--from=actual` here would be pulled.
    context = write(tmp_path, f"FROM {IMAGE} AS actual\nCOPY --from=actual /bin/sh /sh\n")
    assert "no está en Muelle" in student.refused("build", context)
    write(tmp_path, f"FROM {IMAGE} AS antes\nFROM {IMAGE}\nCOPY --from=antes /bin/sh /sh2\n")
    assert "Successfully built" in student.ok("build", context)


def test_a_syntax_directive_is_refused(student, tmp_path):
    context = write(tmp_path, f"# syntax=docker/dockerfile:1\nFROM {IMAGE}\n")
    assert "quita esa línea" in student.refused("build", context)


def test_another_platform_is_refused_and_the_engine_s_own_is_not(student, tmp_path):
    context = write(tmp_path, f"FROM --platform=linux/arm64 {IMAGE}\n")
    assert "no se descarga nada" in student.refused("build", context)
    assert "no se descarga nada" in student.refused(
        "build", "--platform", "linux/arm64", write(tmp_path, f"FROM {IMAGE}\n")
    )
    version = json.loads(student.ok("version", "--format", "{{json .Server}}"))
    own = f"{version['Os']}/{version['Arch']}"
    write(tmp_path, f"FROM --platform={own} {IMAGE}\nRUN true\n")
    assert "Successfully built" in student.ok("build", context)


def test_unicode_spaces_and_unknown_keywords_are_refused(student, tmp_path):
    context = write(tmp_path, f"FROM\u00a0{IMAGE}\n")
    assert "espacio Unicode" in student.refused("build", context)
    write(tmp_path, f"FROM {IMAGE}\nRUN <<EOF\necho hola\nEOF\n")  # no heredocs in 20.10
    assert "instrucción desconocida: «echo»" in student.refused("build", context)


def test_onbuild_triggers_of_an_own_base_image_run_and_are_checked(student, tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    write(base, f"FROM {IMAGE}\nONBUILD\vRUN echo disparador-7f2\n")
    student.ok("build", "-t", "base", str(base))
    child = tmp_path / "hija"
    child.mkdir()
    write(child, "FROM base\nRUN true\n")
    out = student.ok("build", "-t", "hija", str(child))
    assert "Executing 1 build trigger" in out and "disparador-7f2" in out
    student.ok("rmi", "hija", "base")


def test_a_hostile_trigger_in_an_own_base_image_is_refused(student, tmp_path, gateway_config):
    """A base image whose OnBuild the gateway never checked (made straight on the engine, as
    an image from before this check would be): building FROM it is refused."""
    ns = Namespace(student.owner, gateway_config.instance)
    with host_listener("127.0.0.1") as listener:
        for trigger in (
            f"ADD\vhttp://127.0.0.1:{listener.port}/x /x",
            f"COPY --from=127.0.0.1:{listener.port}/y /y /y",
            f"ONBUILD ADD http://127.0.0.1:{listener.port}/z /z",
        ):
            dockerfile = f"FROM {IMAGE}\nONBUILD {trigger}\n".encode()
            out = io.BytesIO()
            with tarfile.open(fileobj=out, mode="w:") as archive:
                info = tarfile.TarInfo("Dockerfile")
                info.size = len(dockerfile)
                archive.addfile(info, io.BytesIO(dockerfile))
            labels = quote(json.dumps(ns.labels), safe="")
            query = f"networkmode=none&rm=1&forcerm=1&labels={labels}"
            made = post_build(gateway_config.engine_socket, out.getvalue(), query)
            if made.image is None:  # the engine itself refuses ONBUILD ONBUILD
                assert "ONBUILD" in made.error
                continue
            tag = ns.own_image_ref(parse_image_ref("base-hostil"))
            repo, _sep, name_tag = tag.rpartition(":")
            status, _body = call(
                gateway_config.engine_socket,
                "POST",
                f"/images/{made.image}/tag?repo={repo}&tag={name_tag}",
            )
            assert status == 201
            write(tmp_path, "FROM base-hostil\nRUN true\n")
            error = student.refused("build", str(tmp_path))
            assert "Dockerfile, línea 1" in error, error
            student.ok("rmi", "base-hostil")
    assert listener.connections == []


def test_add_host_reaches_the_build_steps(student, tmp_path):
    context = write(tmp_path, f"FROM {IMAGE}\nRUN grep basedatos /etc/hosts\n")
    out = student.ok("build", "--add-host", "basedatos:10.1.2.3", context)
    assert "10.1.2.3" in out and "basedatos" in out
    status, body = student.raw(
        "POST",
        "/v1.41/build?extrahosts=basedatos",
        body=b"",
        headers={"Content-Type": "application/x-tar"},
    )
    assert status == 400 and "--add-host no válido" in body["message"]


def test_cache_from_uses_own_images_and_refuses_others(student, other_student, tmp_path):
    context = write(tmp_path, f"FROM {IMAGE}\nRUN echo capa-cacheada-91\n")
    student.ok("build", "-t", "primera", context)
    out = student.ok("build", "--cache-from", "primera", "-t", "segunda", context)
    assert "Using cache" in out
    other_student.ok("build", "-t", "ajena", context)
    error = student.refused("build", "--cache-from", "ajena", context)
    assert "--cache-from «ajena»" in error
    student.ok("rmi", "primera", "segunda")
    other_student.ok("rmi", "ajena")


def test_shm_size_is_allowed_up_to_the_build_memory(student, tmp_path, gateway_config):
    context = write(tmp_path, f"FROM {IMAGE}\nRUN df -m /dev/shm\n")
    limit_mib = gateway_config.build_memory // 2**20
    out = student.ok("build", "--shm-size", f"{limit_mib}m", context)
    assert f" {limit_mib} " in out  # df's size column, in MiB
    error = student.refused("build", "--shm-size", f"{limit_mib + 1}m", context)
    assert "--shm-size" in error
