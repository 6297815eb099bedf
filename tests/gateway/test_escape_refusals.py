"""Every way out of the sandbox the CLI offers is refused, in Spanish, leaving nothing behind."""

from __future__ import annotations

import pytest

from .conftest import IMAGE

pytestmark = pytest.mark.docker

RUN_ESCAPES = [
    (["--privileged"], "--privileged no está permitido"),
    (["-v", "/:/host"], "no se pueden montar carpetas del servidor"),
    (["-v", "/var/run/docker.sock:/var/run/docker.sock"], "socket de Docker"),
    (["--mount", "type=bind,source=/etc,target=/etc2"], "no se pueden montar carpetas"),
    (
        [
            "--mount",
            "type=volume,source=v,target=/x,volume-opt=type=none,volume-opt=o=bind,"
            "volume-opt=device=/etc",
        ],
        "driver local sin opciones",
    ),
    (["--mount", "type=volume,source=../v,target=/x"], "nombre de volumen no válido"),
    (["--mount", "type=volume,source=v/../w,target=/x"], "nombre de volumen no válido"),
    (["--pid", "host"], "--pid host no está permitido"),
    (["--network", "host"], "--network host no está permitido"),
    (["--network", "bridge"], "--network bridge no está permitido"),
    (["--ipc", "host"], "--ipc host no está permitido"),
    (["--uts", "host"], "--uts host no está permitido"),
    (["--userns", "host"], "--userns host no está permitido"),
    (["--cgroupns", "host"], "--cgroupns host no está permitido"),
    (["--cap-add", "SYS_ADMIN"], "--cap-add SYS_ADMIN no está permitido"),
    (["--cap-add", "ALL"], "--cap-add ALL no está permitido"),
    (["--device", "/dev/null:/dev/nulo"], "--device no está permitido"),
    (["--security-opt", "seccomp=unconfined"], "--security-opt seccomp=unconfined"),
    (["--security-opt", "apparmor=unconfined"], "--security-opt apparmor=unconfined"),
    (["--security-opt", "systempaths=unconfined"], "systempaths=unconfined no está permitido"),
    # -p/-P are carried by Muelle since 7568879 (tests/gateway/test_published_ports.py).
    (["--log-opt", "max-file=100"], "--log-opt max-file=100 no está permitido"),
    (["--tmpfs", "/t:size=1g"], "un tmpfs ocupa memoria"),
    (["--sysctl", "net.ipv4.ip_forward=1"], "--sysctl no está permitido"),
    (["--cgroup-parent", "/"], "--cgroup-parent no está permitido"),
    (["--log-driver", "syslog"], "--log-driver syslog no está permitido"),
    (["--runtime", "io.containerd.runc.v2"], "--runtime"),
    (["-m", "1g"], "el máximo por contenedor es 64 MiB"),
    (["--cpus", "2"], "el máximo por contenedor es 0.5"),
    (["--pids-limit", "100000"], "el máximo por contenedor es 64"),
    (["--ulimit", "nofile=100000:100000"], "--ulimit nofile=100000:100000"),
    (["--oom-kill-disable"], "--oom-kill-disable no está permitido"),
    (["--label", "muelle.student=otro"], "reservadas para Muelle"),
    (["--link", "otro:otro"], "--link"),
]


@pytest.mark.parametrize(
    ("flags", "message"), RUN_ESCAPES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_run_escape_is_refused_and_leaves_nothing(student, flags, message):
    error = student.refused("run", "--rm", *flags, IMAGE, "true")
    assert message in error
    assert "Unable to find image" not in error  # a refusal is never a 404 on create
    objects = student.engine_objects()
    assert objects["containers"] == [] and objects["volumes"] == []


def test_exec_privileged_is_refused(student):
    student.ok("run", "-d", "--name", "caja", IMAGE, "sleep", "300")
    assert "--privileged no está permitido" in student.refused(
        "exec", "--privileged", "caja", "true"
    )


def test_update_beyond_the_limits_is_refused(student):
    student.ok("run", "-d", "--name", "caja", IMAGE, "sleep", "300")
    assert "el máximo por contenedor es 64 MiB" in student.refused(
        "update", "--memory", "1g", "--memory-swap", "1g", "caja"
    )
    student.ok("update", "--memory", "32m", "--memory-swap", "32m", "caja")
    assert student.ok("inspect", "--format", "{{.HostConfig.Memory}}", "caja").strip() == str(
        32 * 1024**2
    )


def test_volume_with_driver_options_is_refused(student):
    error = student.refused(
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        "device=/etc",
        "hostetc",
    )
    assert "--opt no está permitido" in error
    assert student.engine_objects()["volumes"] == []


def test_network_with_own_subnet_or_driver_is_refused(student):
    assert "--subnet" in student.refused("network", "create", "--subnet", "10.9.0.0/24", "n1")
    assert "bridge" in student.refused("network", "create", "-d", "macvlan", "n2")
    assert student.engine_objects()["networks"] == []


def test_swarm_plugins_and_system_df_are_refused_in_spanish(student):
    assert "Swarm no está disponible" in student.refused("swarm", "init")
    assert "docker system df no está disponible" in student.refused("system", "df")
    assert "plugins de Docker no están disponibles" in student.refused("plugin", "ls")
