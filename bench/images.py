"""Build time and size of every stand-in image, cold (empty engine, empty .deb cache) and cached
(nothing changed: only checks), beside the official image's size.

By default the cold build runs on a private dockerd (its own data root, socket and bridge, no
iptables) started and stopped by this script, so the shared engine is never emptied; --engine
uses the current DOCKER_HOST instead (cold only if it is empty).

Never `--bridge=none` for the private dockerd: a dockerd started that way deletes the host's
docker0 interface, the default bridge of the engine everyone else uses. It gets a bridge of its
own (BRIDGE, in the TEST-NET-1 documentation range: nothing is routed there; the build containers
have no network anyway), removed afterwards.

    .venv/bin/python bench/images.py [--only nginx mariadb] [--jobs 2] [--engine]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BRIDGE = "mbench0"
BRIDGE_ADDRESS = "192.0.2.1/24"
READY = re.compile(r"^\s*(?P<name>\S+): (?:lista en (?P<s>[\d.]+) s|al día)")


@contextmanager
def private_engine() -> Iterator[str]:
    """A throwaway dockerd; yields its DOCKER_HOST. Stopped and its data removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="muelle-bench-dockerd-"))
    subprocess.run(["ip", "link", "add", "name", BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE], check=True)
    sock = folder / "docker.sock"
    log = (folder / "dockerd.log").open("w")
    proc = subprocess.Popen(
        [
            "dockerd",
            f"--data-root={folder / 'root'}",
            f"--exec-root={folder / 'exec'}",
            f"--pidfile={folder / 'dockerd.pid'}",
            f"--host=unix://{sock}",
            f"--bridge={BRIDGE}",
            "--iptables=false",
            "--ip-masq=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host = f"unix://{sock}"
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["docker", "-H", host, "info"], capture_output=True, check=False
        ).returncode:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"private dockerd did not start; see {folder / 'dockerd.log'}")
            time.sleep(0.5)
        yield host
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", BRIDGE], check=False)


def build(only: list[str] | None, jobs: int) -> tuple[float, dict[str, float | None]]:
    """One build_stand_ins run: total seconds and each image's own seconds (None: current)."""
    from sandbox.course_images.standin_build import build_stand_ins

    per_image: dict[str, float | None] = {}

    def say(line: str) -> None:
        print(f"    {line}", flush=True)
        match = READY.match(line)
        if match:
            per_image[match["name"]] = float(match["s"]) if match["s"] else None

    started = time.monotonic()
    build_stand_ins(say, only=only, jobs=jobs)
    return time.monotonic() - started, per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="only these repositories (and their base)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engine", action="store_true", help="use DOCKER_HOST, not a private one")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
    os.environ.setdefault("MUELLE_INSECURE_DEV_KEY", "1")
    os.environ.setdefault("HTTPS", "0")
    os.environ.setdefault("DEBUG", "0")
    import django

    django.setup()
    from sandbox import engine
    from sandbox.course_images.standins import STAND_INS

    debs = Path(tempfile.mkdtemp(prefix="muelle-bench-debs-"))
    os.environ["MUELLE_STAND_IN_DEB_CACHE"] = str(debs)  # cold: every .deb downloaded again
    try:
        with private_engine() if not args.engine else _current_engine() as host:
            os.environ["DOCKER_HOST"] = host
            print(f"engine: {host}; cold build (empty .deb cache, jobs={args.jobs})", flush=True)
            cold_total, cold = build(args.only, args.jobs)
            print("cached build (nothing changed)", flush=True)
            cached_total, _cached = build(args.only, args.jobs)
            sizes = {s.name: engine.image_size(s.name) for s in STAND_INS}
    finally:
        shutil.rmtree(debs, ignore_errors=True)

    print()
    print(f"{'image':<20} {'cold s':>8} {'size MB':>9} {'official MB':>12}")
    for stand_in in STAND_INS:
        if stand_in.name not in cold and stand_in.name not in sizes:
            continue
        seconds = cold.get(stand_in.name)
        size = sizes.get(stand_in.name)
        official = stand_in.official_size_mb
        print(
            f"{stand_in.name:<20} {'-' if seconds is None else f'{seconds:.1f}':>8} "
            f"{'-' if size is None else f'{size / 1e6:.0f}':>9} "
            f"{'?' if official is None else f'~{official:g}':>12}"
        )
    print()
    print(f"cold total (wall clock, jobs={args.jobs}): {cold_total:.1f} s")
    print(f"cached total (checks only): {cached_total:.2f} s")
    print("official sizes: approximate amd64 `docker images` sizes of the same tags, for reference")


@contextmanager
def _current_engine() -> Iterator[str]:
    yield os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


if __name__ == "__main__":
    main()
