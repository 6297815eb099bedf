"""The everyday container commands work through the gateway, with the real Docker CLI."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import DOCKER, DOCKER_NEW, IMAGE

pytestmark = pytest.mark.docker


def test_version_and_info_answer_through_the_gateway(student):
    assert "API version:       1.41" in student.ok("version")
    info = student.ok("info", "--format", "{{.Containers}} {{.Name}} {{.DockerRootDir}}")
    assert info.split() == ["0", "muelle"]


def test_run_rm_gives_output_and_exit_code(student):
    result = student.docker("run", "--rm", IMAGE, "sh", "-c", "echo fuera; echo error >&2; exit 3")
    assert result.returncode == 3
    assert result.stdout == "fuera\n"
    assert "error" in result.stderr
    assert student.engine_objects()["containers"] == []


def test_run_with_stdin_pipes_input_through_the_hijacked_stream(student):
    out = student.ok("run", "--rm", "-i", IMAGE, "sh", "-c", "tr a-z A-Z; echo fin", input="hola\n")
    assert out == "HOLA\nfin\n"


def test_run_output_is_never_lost(student):
    # The prototype lost ~10% of outputs when a piping task was garbage-collected.
    for index in range(8):
        assert student.ok("run", "--rm", IMAGE, "echo", f"vuelta {index}") == f"vuelta {index}\n"


def test_detached_container_ps_logs_exec_stop_rm(student):
    cid = student.ok(
        "run", "-d", "--name", "web", IMAGE, "sh", "-c", "echo arrancado; exec sleep 300"
    ).strip()
    assert student.ok("ps", "--format", "{{.Names}} {{.Status}}").startswith("web Up")
    assert student.ok("inspect", "--format", "{{.Name}}", "web").strip() == "/web"
    assert student.ok("logs", "web") == "arrancado\n"
    assert student.ok("exec", "web", "cat", "/etc/hostname").strip() == cid[:12]
    assert student.ok("exec", "-i", "web", "cat", input="por exec\n") == "por exec\n"
    student.ok("stop", "-t", "0", "web")
    assert "Exited" in student.ok("ps", "-a", "--format", "{{.Status}}")
    student.ok("rm", "web")
    assert student.ok("ps", "-aq") == ""


def test_logs_follow_streams_until_the_container_ends(student):
    # The container waits for a signal: `logs -f` is surely attached while it runs, and what it
    # prints after the signal can only arrive by streaming. A signal, not `docker exec touch` of a
    # marker: the engine may report that exec as killed (137) when the container ends right after
    # it, which a loaded CI machine showed once.
    student.ok(
        "run",
        "-d",
        "--name",
        "reloj",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo tic 2; exit 0' USR1; echo tic 1; while :; do sleep 0.1; done",
    )
    follower = subprocess.Popen(
        [DOCKER, "logs", "-f", "reloj"], stdout=subprocess.PIPE, text=True, env=student.env()
    )
    try:
        assert follower.stdout.readline() == "tic 1\n"
        # Still running: it cannot end before the signal.
        assert student.ok("inspect", "-f", "{{.State.Running}}", "reloj") == "true\n"
        student.ok("kill", "-s", "USR1", "reloj")
        assert follower.stdout.readline() == "tic 2\n"
        assert follower.stdout.read() == ""  # the stream ends with the container
        assert follower.wait(timeout=60) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    # It ended on its own, by the trap, not killed by the signal.
    assert student.ok("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "reloj") == (
        "false 0\n"
    )


def test_copy_files_in_and_out_of_a_container(student, tmp_path):
    student.ok("run", "-d", "--name", "caja", IMAGE, "sleep", "300")
    source = tmp_path / "nota.txt"
    source.write_text("apunte\n")
    student.ok("cp", str(source), "caja:/tmp/nota.txt")
    assert student.ok("exec", "caja", "cat", "/tmp/nota.txt") == "apunte\n"  # noqa: S108 (inside the container)
    student.ok("cp", "caja:/etc/hostname", str(tmp_path / "hostname"))
    assert (tmp_path / "hostname").read_text().strip()


def test_rename_restart_top_and_diff(student):
    student.ok("run", "-d", "--name", "uno", IMAGE, "sleep", "300")
    student.ok("rename", "uno", "dos")
    assert student.ok("ps", "--format", "{{.Names}}").strip() == "dos"
    student.ok("restart", "-t", "0", "dos")
    assert "sleep" in student.ok("top", "dos")
    student.ok("exec", "dos", "touch", "/nuevo")
    assert "A /nuevo" in student.ok("diff", "dos")


def test_the_current_cli_negotiates_and_runs(student):
    result = student.docker("run", "--rm", IMAGE, "echo", "cliente nuevo", binary=DOCKER_NEW)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "cliente nuevo\n"
    assert student.docker("ps", "-a", binary=DOCKER_NEW).returncode == 0


def test_containers_get_the_hardening_whatever_was_asked(student):
    student.ok("run", "-d", "--name", "duro", IMAGE, "sleep", "300")
    host = student.ok(
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} "
        "{{.HostConfig.PidsLimit}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} "
        "{{.HostConfig.NetworkMode}} {{.HostConfig.Privileged}}",
        "duro",
    ).split()
    mib64 = str(64 * 1024**2)
    assert host == [
        mib64,
        mib64,
        "500000000",
        "64",
        "[ALL]",
        "[no-new-privileges]",
        "none",
        "false",
    ]
    caps = student.ok("exec", "duro", "grep", "CapEff", "/proc/self/status").split()[1]
    assert int(caps, 16) & (1 << 21) == 0  # no CAP_SYS_ADMIN
    assert int(caps, 16) & (1 << 13) == 0  # no CAP_NET_RAW
