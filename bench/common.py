"""What the bench scripts share: Django configured for a throwaway database and sandbox
instance, ready-made student sessions, a deadline, and how figures are printed."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def configure_django(db: Path, instance: str, **extra: str) -> None:
    """Points this process (and the servers it starts, which inherit os.environ) at `db` and at
    its own SANDBOX_INSTANCE, so a bench never touches the real database or other containers."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="tutorial.settings",
        MUELLE_INSECURE_DEV_KEY="1",
        HTTPS="0",
        DEBUG="0",
        SQLITE_PATH=str(db),
        SANDBOX_INSTANCE=instance,
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
        **extra,
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def make_sessions(count: int) -> list[str]:
    """Session keys of `count` students, as a browser that has visited would have."""
    from django.contrib.sessions.backends.db import SessionStore

    keys = []
    for _ in range(count):
        store = SessionStore()
        store["bench"] = True
        store.save()
        keys.append(store.session_key)
    return keys


def whole_number_options(doc: str, **defaults: int) -> argparse.Namespace:
    """The bench's command line: one `--name N` option per default (`runs=10` gives `--runs`),
    described by the first line of the bench's docstring."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in defaults.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, seconds: list[float], target: str, width: int = 40) -> None:
    """One line: count, median, p95 and max in milliseconds, and the target they answer to."""
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<{width}} n={len(ms):<4} median {statistics.median(ms):8.1f} ms   "
        f"p95 {percentile(ms, 0.95):8.1f} ms   max {max(ms):8.1f} ms   ({target})",
        flush=True,
    )


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Bounds a whole bench run in time."""

    def _timeout(*_: object) -> None:
        raise TimeoutError(f"bench took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- The raw engine, for the reference every sandbox figure is printed beside (issue 15) ------
# Straight SDK calls on the shared client (sandbox.engine.call_sync), no Muelle code in between:
# what the engine itself costs on this machine, in the same run as Muelle's figure. Needs Django
# configured (the hardened spec comes from the settings). Containers carry the bench's instance
# label, so every cleanup of that instance removes them too.


def raw_spec(tag: str = "raw") -> object:
    """The hardened spec Muelle gives a sandbox (no gateway folder: nothing Muelle serves), with
    the bare main process (`sleep infinity`, no TTY) instead of Muelle's main shell: the raw
    reference is the engine's cheapest hardened start."""
    import dataclasses
    import time as _time

    from sandbox import hardening

    now = int(_time.time())
    spec = hardening.new_spec(owner=tag, created=now, expires=now + 600, pool=False)
    return dataclasses.replace(spec, command=list(hardening.COMMAND), main_shell=False)


def raw_create_start(spec: object) -> str:
    """One hardened create + start, straight through the SDK; returns the container id."""
    from sandbox import engine
    from sandbox.docker_api.containers import create_arguments

    def run(api: Any) -> str:
        made = api.create_container(**create_arguments(api, spec))  # type: ignore[arg-type]
        api.start(made["Id"])
        return str(made["Id"])

    return engine.call_sync(run)


def raw_remove(container_ids: list[str]) -> None:
    from sandbox import engine

    for cid in container_ids:
        with contextlib.suppress(Exception):
            engine.call_sync(lambda api, c=cid: api.remove_container(c, force=True, v=True))


# The least shell a terminal can have: interactive, on a TTY, no profile and no rc file.
BARE_SHELL = ["/bin/bash", "--noprofile", "--norc", "-i"]


def first_output(stream: Any, within: float = 120.0) -> bytes:
    """The first bytes an exec stream (exec_start(socket=True)) delivers, then closes it. What
    came with the upgrade response sits in the HTTP layer's buffer, not in the socket: reading
    only the socket lost a shell's prompt now and then, and that read waited forever."""
    from sandbox.docker_api.execs import close_stream, hijacked

    try:
        sock, pending = hijacked(stream)
        if pending:
            return pending
        sock.setblocking(True)
        sock.settimeout(within)
        return sock.recv(1024)
    finally:
        close_stream(stream)


def shell_first_output(
    api: Any, container_id: str, command: list[str], *, sized: bool = False
) -> bytes:
    """`exec` of `command` on a TTY, as the student's user in their folder, until its first
    output (sized to 24x80 first with `sized`, as every terminal is)."""
    from django.conf import settings

    made = api.exec_create(
        container_id,
        command,
        stdin=True,
        tty=True,
        user=settings.SANDBOX_USER,
        workdir=settings.SANDBOX_WORKDIR,
    )
    stream = api.exec_start(made["Id"], tty=True, socket=True)
    if sized:
        api.exec_resize(made["Id"], height=24, width=80)
    return first_output(stream)


def raw_create_start_shell(spec: object) -> str:
    """create + start, then `exec` of a bare shell on a TTY, sized, until its first byte (its
    prompt): what the engine itself does for any terminal, with nothing of Muelle's image in it."""
    from sandbox import engine

    container_id = raw_create_start(spec)
    output = engine.call_sync(shell_first_output, container_id, BARE_SHELL, sized=True)
    assert output, "the shell printed nothing"
    return container_id


def raw_start_rate(
    count: int, then: Callable[[], object] | None = None, *, with_shell: bool = False
) -> tuple[float, float]:
    """`count` hardened create+start at once (one thread each), as `count` students arriving
    would ask for them (with `with_shell`, each also to a bare shell's first byte); returns (starts
    per second, wall seconds). Calls `then()` once they have all started (e.g. a CPU snapshot),
    then removes them."""
    import time as _time
    from concurrent.futures import ThreadPoolExecutor

    specs = [raw_spec() for _ in range(count)]
    job = raw_create_start_shell if with_shell else raw_create_start
    started = _time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as threads:
        futures = [threads.submit(job, spec) for spec in specs]
        made = []
        for future in futures:
            with contextlib.suppress(Exception):
                made.append(future.result())
        wall = _time.perf_counter() - started
    if then is not None:
        then()
    raw_remove(made)
    return len(made) / wall, wall


def raw_exec_echo(container_id: str) -> float:
    """Seconds for one `exec` of `echo` (create, start, read to the end), straight SDK."""
    import time as _time

    from django.conf import settings

    from sandbox import engine

    def run(api: object) -> bytes:
        exec_id = api.exec_create(container_id, ["echo", "hola"], user=settings.SANDBOX_USER)  # type: ignore[attr-defined]
        return api.exec_start(exec_id["Id"])  # type: ignore[attr-defined]

    started = _time.perf_counter()
    output = engine.call_sync(run)
    elapsed = _time.perf_counter() - started
    assert output == b"hola\n", output
    return elapsed


def raw_shell_first_byte(container_id: str) -> float:
    """Seconds from exec_create of a login shell with a TTY to its first output byte."""
    import time as _time

    from sandbox import engine

    started = _time.perf_counter()
    data = engine.call_sync(shell_first_output, container_id, ["/bin/bash", "-l"])
    elapsed = _time.perf_counter() - started
    assert data, "the shell printed nothing"
    return elapsed


def ratio_line(name: str, muelle: float, raw: float, unit: str, width: int = 40) -> None:
    """Muelle's figure beside the raw engine's from the same run, and their ratio."""
    print(
        f"{name:<{width}} Muelle {muelle:8.2f} {unit}   raw engine {raw:8.2f} {unit}   "
        f"ratio {muelle / raw if raw else float('nan'):5.2f}",
        flush=True,
    )


def at_once(job: Callable[[T], float], items: list[T]) -> list[float]:
    """job(item) for every item in a thread of its own, released together by a barrier (as a
    class clicking at the same moment); returns each job's seconds."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(len(items))

    def run(item: T) -> float:
        barrier.wait(timeout=60)
        return job(item)

    with ThreadPoolExecutor(max_workers=len(items)) as threads:
        return list(threads.map(run, items))


def raw_engine_list(instance: str) -> float:
    """Seconds for the engine call a Docker-state check stands for: list the containers with a
    label filter (GET /containers/json), straight SDK."""
    import time as _time

    from sandbox import engine, hardening

    label = f"{hardening.LABEL_INSTANCE}={instance}"
    started = _time.perf_counter()
    engine.call_sync(lambda api: api.containers(all=True, filters={"label": [label]}))
    return _time.perf_counter() - started


def beside_raw(name: str, muelle: list[float], raw: list[float], width: int = 40) -> None:
    """Median and p95 of Muelle's timings beside the raw reference's from the same run, with
    the ratios (raw figures printed, so a noisy machine shows as such)."""
    for label, q in (("median", 0.5), ("p95", 0.95)):
        ratio_line(
            f"{name} {label}", percentile(muelle, q) * 1000, percentile(raw, q) * 1000, "ms", width
        )
