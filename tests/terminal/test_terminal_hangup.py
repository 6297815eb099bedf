"""Which pid a terminal's shell has inside its sandbox, read from the host's /proc: only a process
whose cgroup names that very container counts (a pid from another host or container never gets
a SIGHUP). The end-to-end hang-up is in test_terminal_tabs.py, against the real engine."""

from __future__ import annotations

from pathlib import Path

from sandbox.terminal_hangup import pid_in_container

CONTAINER = "a" * 64


def _process(proc: Path, pid: int, cgroup: str, nspid: str) -> None:
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    (folder / "cgroup").write_text(cgroup)
    (folder / "status").write_text(f"Name:\tbash\nPid:\t{pid}\nNSpid:\t{nspid}\nPPid:\t1\n")


def test_the_pid_inside_the_container_is_the_last_nspid(tmp_path: Path) -> None:
    _process(tmp_path, 4321, f"0::/system.slice/docker-{CONTAINER}.scope\n", "4321\t17")
    assert pid_in_container(4321, CONTAINER, tmp_path) == 17


def test_a_process_of_another_container_is_not_ours(tmp_path: Path) -> None:
    _process(tmp_path, 4321, f"0::/docker/{'b' * 64}\n", "4321\t17")
    assert pid_in_container(4321, CONTAINER, tmp_path) is None


def test_a_host_process_or_one_already_gone_gives_nothing(tmp_path: Path) -> None:
    _process(tmp_path, 4321, f"0::/docker/{CONTAINER}\n", "4321")  # no pid namespace of its own
    assert pid_in_container(4321, CONTAINER, tmp_path) is None
    assert pid_in_container(9999, CONTAINER, tmp_path) is None
