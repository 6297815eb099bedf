"""What the bench scripts share: Django configured for a throwaway database and sandbox
instance, ready-made student sessions, a deadline, and how figures are printed."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

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
