"""What the course registry keeps on disk that no tag shows, and when it is freed.

The registry (distribution 2.8) frees blobs only in a garbage collection, and only with its
server stopped (sandbox/course_registry.py). Until then, a tag pushed again over with another
image, or a student's images deleted at their cleanup, leave blobs on disk that no manifest
refers to. Counted by the tags alone, a student could push `app:1` again and again, each time
with new layers, past REGISTRY_MAX_SIZE without end (an attack review measured 14 -> 50 MiB
against a 30 MiB quota). So:
- for the registry Muelle runs, a student's quota counts what their repositories hold on its
  disk (`footprint`: every linked blob and every unfinished upload, whatever the tags say); for
  a registry it does not run, what a push leaves behind (blobs their tags referred to before it
  and not after) counts until this process restarts (`left_behind`);
- `collect_if_due` (from the reaper's sweep) restarts the registry Muelle runs in
  REGISTRY_FOLDER, which collects before it serves: at most every REGISTRY_COLLECT_EVERY, only
  when something was left behind, and only while no push, pull, search or deletion is under way
  (they hold `in_use`, and wait while a collection runs).

A registry Muelle does not run (REGISTRY_URL elsewhere, or no serve.json in the folder) is
never restarted: its collection is its operator's, and what is left behind keeps counting
until this process restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import Popen

from sandbox import course_registry

from .config import GatewayConfig

logger = logging.getLogger(__name__)
# A collection takes a few seconds (stop, collect, start): exchanges waiting for it poll.
_WAIT_STEP = 0.05


class _State:
    def __init__(self) -> None:
        self.guard = threading.Lock()  # the gateway's event loops may be several (threads)
        self.left: dict[str, int] = {}  # student key -> bytes left behind since the collection
        self.dirty = False  # something was left behind since the last collection
        self.busy = 0  # exchanges with the registry under way
        self.collecting = False
        # A collection is due but exchanges were under way: new ones wait, so that one student
        # making request after request cannot put it off for ever.
        self.pending = False
        self.last = time.monotonic()
        self.process: Popen[bytes] | None = None  # the server this process started, if any


_state = _State()


def left_behind(key: str) -> int:
    with _state.guard:
        return _state.left.get(key, 0)


def leave(key: str, size: int) -> None:
    """`key`'s push left `size` bytes of blobs that no tag of theirs refers to any more."""
    with _state.guard:
        _state.left[key] = _state.left.get(key, 0) + size
        _state.dirty = _state.dirty or size > 0


def deleted() -> None:
    """Manifests were deleted (a student's cleanup), or a push failed or was cut off (its
    uploads): what they leave on disk waits for a collection."""
    with _state.guard:
        _state.dirty = True


@asynccontextmanager
async def in_use() -> AsyncIterator[None]:
    """Around an exchange with the registry: it never runs during a collection."""
    while True:
        with _state.guard:
            if not (_state.collecting or _state.pending):
                _state.busy += 1
                break
        await asyncio.sleep(_WAIT_STEP)
    try:
        yield
    finally:
        with _state.guard:
            _state.busy -= 1


def own_folder(config: GatewayConfig) -> Path | None:
    """The folder of the registry Muelle runs at the gateway's registry address, if any."""
    if not config.registry_folder or not config.registry_address:
        return None
    folder = Path(config.registry_folder).resolve()
    try:
        started = json.loads((folder / "serve.json").read_text())
    except (OSError, ValueError):
        return None
    if f"{started.get('host')}:{started.get('port')}" != config.registry_address:
        return None
    return folder


async def collect_if_due(config: GatewayConfig) -> bool:
    """Restarts (and so collects) the registry Muelle runs, when due; True if it did."""
    folder = own_folder(config)
    if folder is None:
        return False
    with _state.guard:
        due = time.monotonic() - _state.last >= config.registry_collect_every
        if not (_state.dirty and due) or _state.collecting:
            return False
        if _state.busy:
            _state.pending = True  # the next call collects, once these are done
            return False
        _state.collecting = True
    try:
        process = await asyncio.to_thread(course_registry.restart, folder)
    except Exception:
        logger.warning("el registro del curso no se pudo limpiar", exc_info=True)
        with _state.guard:
            _state.last = time.monotonic()  # not again at once: the next interval
            _state.collecting = _state.pending = False
        return False
    with _state.guard:
        _state.process = process
        _state.left.clear()
        _state.dirty = False
        _state.last = time.monotonic()
        _state.collecting = _state.pending = False
    return True


async def trim_log(config: GatewayConfig) -> bool:
    """Keeps the log of the registry Muelle runs near REGISTRY_LOG_MAX (course_registry.trim_log);
    True if it was trimmed."""
    folder = own_folder(config)
    if folder is None:
        return False
    try:
        return await asyncio.to_thread(course_registry.trim_log, folder, config.registry_log_max)
    except OSError:
        logger.warning("no se pudo recortar registry.log del registro del curso", exc_info=True)
        return False


def footprint(folder: Path, key: str) -> int:
    """What the student's repositories hold on the registry's disk, whatever their tags say:
    every blob linked in them (a tag's, a version pushed over, a layer of a push cut off) while
    its data is there, and every upload unfinished. Blocking (a walk of their folders)."""
    v2 = folder / "storage" / "docker" / "registry" / "v2"
    mine = v2 / "repositories" / key
    if not mine.is_dir():
        return 0
    total = 0
    seen: set[str] = set()
    for pattern in ("_layers/sha256/*/link", "_manifests/revisions/sha256/*/link"):
        for link in mine.rglob(pattern):
            digest = link.parent.name
            if digest in seen:
                continue
            seen.add(digest)
            try:
                total += (v2 / "blobs" / "sha256" / digest[:2] / digest / "data").stat().st_size
            except OSError:
                pass  # collected: the link outlives its blob
    for data in mine.rglob("_uploads/*/data"):
        try:
            total += data.stat().st_size
        except OSError:
            pass
    return total
