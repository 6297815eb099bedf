"""The 3-node Swarm test bed (deploy/swarm/testbed.sh: three real dockerd, root) brought up and
always torn down, and images loaded on its nodes: what tests/deploy's Swarm tests and
bench/swarm.py both stand on."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "swarm" / "testbed.sh"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """A command's stdout, stripped; a failing command raises (CalledProcessError)."""
    return subprocess.run(
        list(args), check=True, capture_output=True, text=True, timeout=timeout, env=env
    ).stdout.strip()


@dataclass(frozen=True)
class SwarmBed:
    dir: Path
    socks: list[str]  # unix:// of node 1, 2, 3 (node 1 is the only manager)
    addrs: list[str]
    tls: tuple[str, str, str]  # CA, client certificate, client key (PEM files, for Muelle)

    def engine(self, n: int) -> str:
        return f"tcp://{self.addrs[n]}:2376"  # mutual TLS only (testbed.sh)

    def muelle_settings(self) -> dict[str, str]:
        """The settings that make Muelle place sandboxes on this bed, over mutual TLS."""
        ca, cert, key = self.tls
        return {
            "SANDBOX_PLACEMENT": "swarm",
            "SANDBOX_SWARM_MANAGER": self.socks[0],
            "SANDBOX_SWARM_ENGINE": "tcp://{addr}:2376",
            "SANDBOX_SWARM_TLS_CA": ca,
            "SANDBOX_SWARM_TLS_CERT": cert,
            "SANDBOX_SWARM_TLS_KEY": key,
        }

    @property
    def engines(self) -> list[str]:
        return [self.engine(n) for n in range(len(self.addrs))]

    def node_of(self, address: str | None) -> int:
        return self.engines.index(address or "")

    def node_id(self, n: int) -> str:
        return run("docker", "-H", self.socks[n], "info", "-f", "{{.Swarm.NodeID}}")


@contextlib.contextmanager
def swarm_bed(folder: Path, tag: str, slots: int) -> Iterator[SwarmBed]:
    """The bed up in `folder` (the script removes it on the way down); `tag` names its network
    namespaces and links, so beds of parallel runs never meet; `slots` is each node's number of
    `sandbox` resources. Torn down on the way out, also on failure."""
    env = {
        **os.environ,
        "MUELLE_SWARM_DIR": str(folder),
        "MUELLE_SWARM_TAG": tag,
        "MUELLE_SWARM_SLOTS": str(slots),
    }
    try:
        for _ in range(20):
            # A random subnet for the same reason as the tag; the script refuses (3) one that
            # another bed holds, and this picks another.
            env["MUELLE_SWARM_NET"] = str(100 + secrets.randbelow(150))
            up = subprocess.run(
                [str(SCRIPT), "up"], capture_output=True, text=True, timeout=300, env=env
            )
            if up.returncode != 3:
                break
        if up.returncode != 0:
            raise subprocess.CalledProcessError(up.returncode, up.args, up.stdout, up.stderr)
        out = up.stdout.strip()
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        yield SwarmBed(
            folder,
            [values[f"NODE{n}_SOCK"] for n in (1, 2, 3)],
            [values[f"NODE{n}_ADDR"] for n in (1, 2, 3)],
            (values["TLS_CA"], values["TLS_CERT"], values["TLS_KEY"]),
        )
    finally:
        subprocess.run([str(SCRIPT), "down"], env=env, check=False, timeout=300)


def load_images(bed: SwarmBed, images: list[str]) -> None:
    """No registry on the bed: the images go to every node once (one tar, loaded in parallel)."""
    tar = bed.dir / "images.tar"
    run("docker", "save", "-o", str(tar), *images, timeout=600)
    loads = [subprocess.Popen(["docker", "-H", s, "load", "-q", "-i", str(tar)]) for s in bed.socks]
    codes = [p.wait(timeout=900) for p in loads]
    tar.unlink()
    if codes != [0] * len(loads):
        raise RuntimeError(f"docker load on the bed's nodes ended with {codes}")
