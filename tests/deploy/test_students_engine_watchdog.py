"""deploy/students-engine/watchdog.sh against a real students' engine that is really hung.

The hang Docker 20.10's libnetwork deadlock leaves (moby/moby#42545: `/_ping` answers, `/info`
and every container call wait for ever) cannot be made on demand. The same symptom can: this
engine's own containerd is stopped (SIGSTOP), and dockerd's `/info`, which asks containerd for
its version without a deadline, waits for ever while the ping still answers. The watchdog must
leave a healthy engine alone and restart a hung one, which then answers `/info` again. Only the
engine started here is touched (its own folder, bridge, containerd namespace); never the
host's main engine."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .stack_client import students_engine_names

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "deploy" / "students-engine" / "students-engine.sh"
WATCHDOG = ROOT / "deploy" / "students-engine" / "watchdog.sh"


@dataclass
class Engine:
    folder: Path
    env: dict[str, str]

    @property
    def socket(self) -> str:
        return str(self.folder / "run" / "docker.sock")

    def pid(self) -> int:
        return int((self.folder / "exec" / "docker.pid").read_text())

    def answers(self, path: str, seconds: int) -> bool:
        return (
            subprocess.run(
                ["curl", "-sf", "-o", "/dev/null", "--max-time", str(seconds)]
                + ["--unix-socket", self.socket, f"http://docker{path}"],
                timeout=seconds + 30,
            ).returncode
            == 0
        )

    def containerd_pid(self) -> int:
        found = subprocess.run(
            ["pgrep", "-f", f"containerd --config {self.folder}/exec/"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert len(found) == 1, found
        return int(found[0])

    def watchdog(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [WATCHDOG],
            env={
                **self.env,
                "MUELLE_WATCHDOG_INFO_TIMEOUT": "5",
                # No such unit here: the watchdog restarts it with students-engine.sh.
                "MUELLE_WATCHDOG_UNIT": "muelle-test-no-such-unit.service",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )


def has_docker0() -> bool:
    return subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0


def process_state(pid: int) -> str:
    """The kernel's state letter for `pid` (T: stopped, Z: zombie), or "" once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return ""
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


@pytest.fixture
def engine() -> Iterator[Engine]:
    folder = Path(tempfile.mkdtemp(prefix="muelle-watchdog-", dir="/tmp"))
    folder.chmod(0o711)  # the remapped root walks down to its data root
    tag = f"{os.getpid() % 100000}"
    net = 1 + secrets.randbelow(250)
    env = {
        **os.environ,
        "MUELLE_ENGINE_DIR": str(folder),
        **students_engine_names(f"muelle-wd-{tag}", f"mwd{tag}", net),
    }
    try:
        subprocess.run([ENGINE, "start"], env=env, check=True, timeout=120)
        yield Engine(folder, env)
    finally:
        subprocess.run([ENGINE, "purge"], env=env, check=False, timeout=300)
        assert not folder.exists()
        bridge = subprocess.run(["ip", "link", "show", env["MUELLE_ENGINE_BRIDGE"]])
        assert bridge.returncode != 0


def test_a_healthy_engine_is_left_alone(engine: Engine) -> None:
    before = engine.pid()
    done = engine.watchdog()
    assert done.returncode == 0, done.stderr
    assert engine.pid() == before
    assert "reinicio" not in done.stderr


def test_an_engine_that_answers_ping_but_not_info_is_restarted(engine: Engine) -> None:
    """Also: the restart leaves the host's docker0 (the main engine's bridge) alone. A dockerd
    with --default-address-pool that finds its previous run's default network deletes docker0
    (students-engine.sh starts each run without that network store)."""
    if not has_docker0():
        pytest.fail("the host has no docker0 before this test: something else removed it")
    before = engine.pid()
    containerd = engine.containerd_pid()
    os.kill(containerd, signal.SIGSTOP)
    try:
        # Hung for real: the ping answers, /info does not.
        assert engine.answers("/_ping", 5)
        assert not engine.answers("/info", 5)

        done = engine.watchdog()
        assert done.returncode == 0, done.stderr
        assert "bloqueado" in done.stderr and "reiniciado: /info responde" in done.stderr
        # A new dockerd, with a new containerd; the stopped one is gone (or only a zombie).
        assert engine.pid() != before
        assert engine.answers("/info", 30)
        assert has_docker0()
        assert engine.containerd_pid() != containerd
        assert process_state(containerd) in ("", "Z")
        # The hung engine's goroutine stacks were kept for a bug report.
        assert list((engine.folder / "exec").glob("goroutine-stacks-*.log"))
    finally:
        if process_state(containerd) == "T":
            os.kill(containerd, signal.SIGKILL)  # the watchdog failed: let purge finish
