"""How the disk measure finds every process of a container (sandbox.gateway.disk_walk.
container_pids), on each cgroup layout the engine makes: cgroup v1 (these machines), and cgroup
v2 with the cgroupfs or the systemd driver, read from the host's namespace or from a container
in a private cgroup namespace (deploy/'s web container on a cgroup v2 host). These machines run
cgroup v1 only (a hybrid hierarchy), so the v2 layouts are written here as files, as the kernel
shows them: /proc/<pid>/cgroup and each cgroup's cgroup.procs. The v1 path also runs against the
real engine in gateway/test_disk_unseen.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sandbox.gateway.disk_walk import container_pids

ID = "4f1c2b" + "0" * 58  # a container id: 64 hex digits
OTHER = "9a8b7c" + "1" * 58
FIRST, EXEC, SHELL = 4242, 4300, 4301


def layout(tmp_path: Path, proc_lines: str, procs_at: str | None) -> tuple[str, str]:
    """A /proc with FIRST's cgroup file, and a cgroup hierarchy whose `procs_at` lists the
    container's three processes. Returns (cgroup_root, proc)."""
    proc = tmp_path / "proc"
    (proc / str(FIRST)).mkdir(parents=True)
    (proc / str(FIRST) / "cgroup").write_text(proc_lines, encoding="ascii")
    root = tmp_path / "cgroup"
    if procs_at is not None:
        folder = root / procs_at.lstrip("/")
        folder.mkdir(parents=True)
        (folder / "cgroup.procs").write_text(f"{FIRST}\n{EXEC}\n{SHELL}\n", encoding="ascii")
    return str(root), str(proc)


V1 = (
    f"12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n"
    f"1:name=systemd:/docker/{ID}\n0::/system.slice/containerd.service\n"
)


@pytest.mark.parametrize(
    ("proc_lines", "procs_at"),
    [
        pytest.param(V1, f"pids/docker/{ID}", id="v1-cgroupfs"),
        pytest.param(f"0::/docker/{ID}\n", f"docker/{ID}", id="v2-cgroupfs-host-namespace"),
        pytest.param(
            f"0::/system.slice/docker-{ID}.scope\n",
            f"system.slice/docker-{ID}.scope",
            id="v2-systemd-host-namespace",
        ),
        # Read from another container in its own cgroup namespace: the path is relative to the
        # reader's cgroup, so the engine's layouts are tried under the host's hierarchy.
        pytest.param(f"0::/../{ID}\n", f"docker/{ID}", id="v2-cgroupfs-private-namespace"),
        pytest.param(
            f"0::/../docker-{ID}.scope\n",
            f"system.slice/docker-{ID}.scope",
            id="v2-systemd-private-namespace",
        ),
    ],
)
def test_every_process_of_the_container_is_found(
    tmp_path: Path, proc_lines: str, procs_at: str
) -> None:
    root, proc = layout(tmp_path, proc_lines, procs_at)
    assert container_pids(FIRST, ID, root, proc) == [FIRST, EXEC, SHELL]


def test_a_number_now_in_another_containers_cgroup_counts_nothing(tmp_path: Path) -> None:
    # The container's first process ended and its number went to a process of another: the
    # files that one holds are not this student's.
    root, proc = layout(
        tmp_path, f"0::/system.slice/docker-{OTHER}.scope\n", f"system.slice/docker-{OTHER}.scope"
    )
    assert container_pids(FIRST, ID, root, proc) == []


def test_a_process_that_is_gone_counts_nothing(tmp_path: Path) -> None:
    root, proc = layout(tmp_path, f"0::/docker/{ID}\n", f"docker/{ID}")
    assert container_pids(FIRST + 1, ID, root, proc) == []


def test_a_list_that_leaves_the_first_process_out_is_not_the_containers(tmp_path: Path) -> None:
    # A cgroup.procs at the guessed place that does not hold the first process belongs to some
    # other cgroup: only the first process is counted, as when nothing is found.
    root, proc = layout(tmp_path, f"0::/../{ID}\n", f"docker/{ID}")
    (Path(root) / "docker" / ID / "cgroup.procs").write_text(f"{EXEC}\n", encoding="ascii")
    assert container_pids(FIRST, ID, root, proc) == [FIRST]


def test_an_unknown_layout_counts_the_first_process_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, proc = layout(tmp_path, f"0::/kubepods/pod1/{ID}\n", None)
    with caplog.at_level(logging.WARNING, logger="sandbox.gateway.disk_walk"):
        assert container_pids(FIRST, ID, root, proc) == [FIRST]
    assert f"the cgroup of {ID[:12]} not found" in caplog.text
