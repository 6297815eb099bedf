"""Where the gateway allows something, the student's `docker` answers as the engine does (issue
17): each case runs the same real CLI command straight against the engine and through a
student's gateway, and compares what the student sees."""

from __future__ import annotations

import pytest

from .conftest import IMAGE
from .engine_side import engine  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker

SHORT = "muelle/busybox"  # written without a tag, as `docker create alpine`


def test_create_keeps_the_image_as_written(student, engine):  # noqa: F811
    mine = engine.ok("create", "--label", engine.label, SHORT, "true").strip()
    assert engine.ok("inspect", "-f", "{{.Config.Image}}", mine) == f"{SHORT}\n"
    student.ok("create", "--name", "uno", SHORT, "true")
    assert student.ok("inspect", "-f", "{{.Config.Image}}", "uno") == f"{SHORT}\n"
    assert student.ok("ps", "-a", "--format", "{{.Image}}") == f"{SHORT}\n"
    assert engine.ok("ps", "-a", "--filter", f"id={mine}", "--format", "{{.Image}}") == (
        f"{SHORT}\n"
    )


def test_an_own_image_is_shown_as_written_and_never_with_the_prefix(student):
    student.ok("tag", IMAGE, "miapp")
    student.ok("create", "-m", "16m", "--name", "dos", "miapp", "true")
    student.ok("create", "-m", "16m", "--name", "tres", "miapp:latest", "true")
    image_id = student.ok("inspect", "-f", "{{.Id}}", "miapp").strip()
    student.ok("create", "-m", "16m", "--name", "cuatro", image_id[7:19], "true")
    shown = student.ok("ps", "-a", "--format", "{{.Names}} {{.Image}}").splitlines()
    assert sorted(shown) == sorted(["dos miapp", "tres miapp:latest", f"cuatro {image_id[7:19]}"])
    assert student.ok("inspect", "-f", "{{.Config.Image}}", "dos") == "miapp\n"
    # The engine really runs the student's image, not something that happens to share the name.
    assert student.ok("inspect", "-f", "{{.Image}}", "dos").strip() == image_id


@pytest.mark.parametrize("size", ["3M", "3m", "3145728", "0x300000", "3072K"])
def test_tmpfs_sizes_the_kernel_reads_are_accepted(student, engine, size):  # noqa: F811
    script = "grep ' /t ' /proc/mounts | grep -o 'size=[0-9a-z]*'"
    args = ["run", "--rm", "--tmpfs", f"/t:size={size}", IMAGE, "sh", "-c", script]
    assert student.ok(*args) == "size=3072k\n"
    assert engine.ok(args[0], *engine.run_options(), *args[1:]) == "size=3072k\n"


@pytest.mark.parametrize("size", ["3MB", "3MiB", "1.5m"])
def test_tmpfs_sizes_the_kernel_refuses_are_refused_before_the_engine(student, engine, size):  # noqa: F811
    # The engine accepts them at create and the kernel refuses the mount at start.
    args = ["run", "--rm", "--tmpfs", f"/t:size={size}", IMAGE, "true"]
    assert "invalid argument" in engine.docker(args[0], *engine.run_options(), *args[1:]).stderr
    error = student.refused(*args)
    assert f"size={size} no válido" in error
    assert "k, m o g (en mayúsculas o minúsculas)" in error
    assert student.engine_objects()["containers"] == []


def test_tmpfs_size_keeps_the_memory_cap(student):
    error = student.refused("run", "--rm", "--tmpfs", "/t:size=1G", IMAGE, "true")
    assert "el máximo es 64 MiB" in error


def test_isolation_default_is_kept(student, engine):  # noqa: F811
    mine = engine.ok("create", "--label", engine.label, "--isolation", "default", IMAGE).strip()
    assert engine.ok("inspect", "-f", "{{.HostConfig.Isolation}}", mine) == "default\n"
    student.ok("create", "--name", "iso", "--isolation", "default", IMAGE)
    assert student.ok("inspect", "-f", "{{.HostConfig.Isolation}}", "iso") == "default\n"


def test_info_counts_the_images_docker_images_a_lists(student):
    def counts() -> tuple[int, int]:
        # Other tests may build course images meanwhile: read until the listing held still.
        for _attempt in range(10):
            listed = student.ok("images", "-a", "-q", "--no-trunc").split()
            info = int(student.ok("info", "--format", "{{.Images}}"))
            if student.ok("images", "-a", "-q", "--no-trunc").split() == listed:
                break
        return info, len(set(listed))

    before = counts()
    assert before[0] == before[1] > 0
    student.ok("create", "--name", "base", IMAGE, "true")
    student.ok("commit", "base", "propia")
    after = counts()
    assert after[0] == after[1]
    assert "propia" in student.ok("images", "-a", "--format", "{{.Repository}}").split()


def test_a_network_name_with_a_space_works_as_on_the_engine(student, engine):  # noqa: F811
    name = engine.name("test 01")
    engine.ok("network", "create", "--label", engine.label, name)
    assert engine.ok("network", "inspect", "-f", "{{.Name}}", name) == f"{name}\n"
    assert student.ok("network", "create", "test 01")
    assert student.ok("network", "inspect", "-f", "{{.Name}}", "test 01") == "test 01\n"
    assert student.ok("network", "ls", "--format", "{{.Name}}") == "test 01\n"
    student.ok("run", "--rm", "--network", "test 01", IMAGE, "true")
    student.ok("network", "rm", "test 01")


def test_network_names_the_engine_refuses_are_refused(student, engine):  # noqa: F811
    assert "predefined bridge network" in engine.docker("network", "create", "bridge").stderr
    assert "red predefinida" in student.refused("network", "create", "bridge")
    assert "invalid name" in engine.docker("network", "create", "   ").stderr
    assert "Nombre de red no válido" in student.refused("network", "create", "   ")
    assert student.engine_objects()["networks"] == []


def test_network_connect_keeps_the_mac_address(student, engine):  # noqa: F811
    # The 20.10 CLI has no `network connect --mac-address`; the SDK sends it: the API is used.
    mac = "02:42:ac:11:00:99"
    template = "{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}"
    net = engine.name("macnet")
    engine.ok("network", "create", "--label", engine.label, "--internal", net)
    mine = engine.ok("create", "--label", engine.label, "--network", "none", IMAGE, "sleep", "300")
    mine = mine.strip()
    engine.ok("network", "disconnect", "none", mine)
    connect = {"Container": mine, "EndpointConfig": {"MacAddress": mac}}
    theirs = engine.raw("POST", f"/v1.41/networks/{net}/connect", connect)
    assert engine.ok("inspect", "-f", template, mine) == f"{mac}\n"
    engine.ok("start", mine)
    # Engine 20.10 picks its own address at start (API 1.44 honours it): whatever it does,
    # the student's container must do the same.
    kept_by_engine = engine.ok("inspect", "-f", template, mine) == f"{mac}\n"

    student.ok("network", "create", "macnet")
    student.ok("create", "--name", "conmac", IMAGE, "sleep", "300")
    body = b'{"Container": "conmac", "EndpointConfig": {"MacAddress": "%s"}}' % mac.encode()
    status, _answer = student.raw("POST", "/v1.41/networks/macnet/connect", body=body)
    assert status == theirs[0] == 200
    assert student.ok("inspect", "-f", template, "conmac") == f"{mac}\n"
    student.ok("start", "conmac")
    assert (student.ok("inspect", "-f", template, "conmac") == f"{mac}\n") == kept_by_engine
    body = b'{"Container": "conmac", "EndpointConfig": {"MacAddress": "nada"}}'
    status, answer = student.raw("POST", "/v1.41/networks/macnet/connect", body=body)
    assert status == 400
    assert "Dirección MAC no válida" in answer["message"]


def test_swarm_leave_and_probes_answer_as_a_node_outside_a_swarm(student, engine):  # noqa: F811
    theirs = engine.docker("swarm", "leave")
    mine = student.docker("swarm", "leave")
    assert theirs.returncode == mine.returncode == 1
    assert "not part of a swarm" in theirs.stderr
    assert "no forma parte de un swarm" in mine.stderr
    for path in ("/v1.41/swarm", "/v1.41/nodes", "/v1.41/services", "/v1.41/secrets"):
        assert engine.raw("GET", path)[0] == student.raw("GET", path)[0] == 503
    assert engine.raw("POST", "/v1.41/swarm/leave?force=1")[0] == 503
    assert student.raw("POST", "/v1.41/swarm/leave?force=1")[0] == 503
    # Anything that would change something is still refused.
    assert "Swarm no está disponible" in student.refused("swarm", "init")
    assert student.raw("POST", "/v1.41/services/create", body=b"{}")[0] == 403


def test_restart_retry_cap_names_the_rule_and_the_number(student):
    error = student.refused("run", "-d", "--restart", "on-failure:42", IMAGE, "true")
    assert "--restart on-failure:42 no está permitido" in error
    assert "como máximo se admiten 10 reintentos" in error
    student.ok("create", "--name", "diez", "--restart", "on-failure:10", IMAGE, "true")
    template = "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
    assert student.ok("inspect", "-f", template, "diez") == "on-failure:10\n"


def test_link_refusal_explains_itself(student):
    student.ok("create", "--name", "destino", IMAGE, "true")
    error = student.refused("create", "--link", "destino:db", IMAGE, "true")
    assert "--link no está permitido en Muelle" in error
    assert "docker network create" in error


@pytest.mark.parametrize("size", ["500k", "1.5K", "2 KiB", "1m", "0.5MB"])
def test_log_max_size_is_kept_as_written_with_the_engines_grammar(student, engine, size):  # noqa: F811
    template = "{{json .HostConfig.LogConfig.Config}}"
    mine = engine.ok("create", "--label", engine.label, "--log-opt", f"max-size={size}", IMAGE)
    theirs = engine.ok("inspect", "-f", template, mine.strip())
    student.ok("create", "--name", "registro", "--log-opt", f"max-size={size}", IMAGE)
    assert (
        student.ok("inspect", "-f", template, "registro")
        == theirs
        == (f'{{"max-size":"{size}"}}\n')
    )
    student.ok("start", "registro")


def test_log_options_beyond_muelles_bound_are_refused_clearly(student):
    assert "ocupan como máximo 1m" in student.refused("create", "--log-opt", "max-size=10m", IMAGE)
    assert "un solo fichero" in student.refused("create", "--log-opt", "max-file=100", IMAGE)
    assert "max-size=3Mx no válido" in student.refused("create", "--log-opt", "max-size=3Mx", IMAGE)
    assert "solo se admiten max-size" in student.refused("create", "--log-opt", "mode=x", IMAGE)
    # Nothing asked: Muelle's bound, visible as such.
    student.ok("create", "--name", "sinopciones", IMAGE)
    template = "{{json .HostConfig.LogConfig}}"
    assert student.ok("inspect", "-f", template, "sinopciones") == (
        '{"Type":"json-file","Config":{"max-size":"1m"}}\n'
    )
    assert student.engine_objects()["containers"] != []
