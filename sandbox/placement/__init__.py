"""Where a sandbox lives: this server's engine (SANDBOX_PLACEMENT=local, the default) or a node of
a Docker Swarm that Swarm's own scheduler picks (SANDBOX_PLACEMENT=swarm, docs/despliegue.md).

Swarm decides, a node-local step creates. Services on Docker 20.10 cannot carry `--network none`
nor no-new-privileges, so a sandbox is not a service: per sandbox Muelle creates a placeholder
service (the sandbox image, by id, sleeping) that reserves one `sandbox` generic resource; once
Swarm has assigned its task to node X, Muelle creates the real sandbox on X's engine with exactly
the options it uses locally (sandbox/hardening.py). The placeholder keeps the slot reserved
while the sandbox lives and is removed with it. A drained or full node gets no placeholder, so
no sandbox.

Everything per engine follows the sandbox: the container (and its exec sessions) are bound to
their node's engine in docker_api.client, so every container call goes there; the student's
Docker gateway forwards to the engine of their sandbox (client.owner_engine); the reaper lists every
node (managed, then gateway_folders and student_engines of what that look found: its sweep of
students' leftovers).

    container_id = await create_and_start(spec, inflight)
    folder = remove_sync(container_id)          # blocking; also frees the Swarm slot
    reason = await move_reason(container_id)    # Spanish, when the student must move
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import hardening
from sandbox.docker_api import containers as docker_containers
from sandbox.docker_api import swarm
from sandbox.docker_api.client import (
    EngineUnavailable,
    bind_engine,
    bind_owner_engine,
    call,
    call_on_sync,
    call_sync,
    engine_of,
    in_pool,
    look_on_sync,
    no_engine_message,
    unbind_engine,
)
from sandbox.docker_api.containers import ManagedContainer

logger = logging.getLogger(__name__)

LABEL_PLACEMENT = "muelle.placement"  # on a sandbox: the name of its placeholder service
PLACE_TIMEOUT = 30.0  # seconds Swarm may take to assign a placeholder's task
FULL_AFTER = 2.0  # a task pending this long for lack of slots: every node is full
UNREACHABLE_FOR = 60.0  # seconds a node whose engine refused us gets no placeholder
SWEEP_GRACE = 120.0  # a placeholder this old without its sandbox anywhere was left behind

_lock = threading.Lock()
_placeholder_of: dict[str, str] = {}  # container id -> placeholder service name
# The nodes are looked at all at once: one that hangs costs a look LOOK_TIMEOUT (twice for a
# reaper pass, which asks again), not that for each node.
_look_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="muelle-node-look")
_moved: dict[str, str] = {}  # owner -> why their sandbox was replaced (said once)
_unreachable: dict[str, float] = {}  # node id -> when its engine last refused us


def enabled() -> bool:
    return bool(settings.SANDBOX_PLACEMENT == "swarm")


def _manager() -> str:
    return str(settings.SANDBOX_SWARM_MANAGER)


def engine_address(node: swarm.Node) -> str:
    return str(settings.SANDBOX_SWARM_ENGINE).format(addr=node.addr)


def full_message() -> str:
    return _(
        "Todos los servidores de práctica están llenos ahora mismo. Vuelve a intentarlo dentro "
        "de un momento."
    )


def lost_message() -> str:
    return _(
        "El servidor donde estaba tu entorno de práctica ha dejado de responder, así que tienes "
        "uno nuevo en otro servidor. Tu progreso en las lecciones está intacto; los archivos y "
        "contenedores del entorno anterior se han perdido."
    )


def drained_message() -> str:
    return _(
        "El servidor donde estaba tu entorno de práctica está en mantenimiento, así que tienes "
        "uno nuevo en otro servidor. Tu progreso en las lecciones está intacto; los archivos y "
        "contenedores del entorno anterior no se han trasladado."
    )


# --- Creating and removing ---------------------------------------------------------------------


async def create_and_start(
    spec: hardening.ContainerSpec, inflight: set[str]
) -> tuple[str, Any | None]:
    """Creates and starts the sandbox where the placement setting says; returns its id and its
    main shell's attach stream (docker_containers.create_and_start)."""
    if not enabled():
        return await call(docker_containers.create_and_start, spec, inflight)
    return await in_pool(_create_on_a_node, spec, inflight)


def _create_on_a_node(spec: hardening.ContainerSpec, inflight: set[str]) -> tuple[str, Any | None]:
    manager = _manager()
    image = call_on_sync(manager, swarm.image_id, spec.image)
    token = spec.name.rsplit("-", 1)[-1]
    for attempt in range(3):
        service = f"muelle-{hardening.instance_slug()}-place-{token}{'abc'[attempt]}"
        call_on_sync(
            manager,
            swarm.create_placeholder,
            name=service,
            image=image,
            user=spec.user,
            instance=settings.SANDBOX_INSTANCE,
            avoid=_unreachable_nodes(),
        )
        node: swarm.Node | None = None
        try:
            node = _assigned_node(manager, service)
            address = engine_address(node)
            placed = dataclasses.replace(spec, labels={**spec.labels, LABEL_PLACEMENT: service})
            container_id, shell = call_on_sync(
                address, docker_containers.create_and_start, placed, inflight
            )
        except BaseException as exc:
            with contextlib.suppress(Exception):
                call_on_sync(manager, swarm.remove_service, service)
            if node is None or not isinstance(exc, EngineUnavailable) or attempt == 2:
                raise
            # Swarm chose a node whose engine is gone (it has not noticed yet): elsewhere.
            with _lock:
                _unreachable[node.id] = time.monotonic()
            continue
        break
    bind_engine(container_id, address)
    with _lock:
        _placeholder_of[container_id] = service
    owner = spec.labels.get(hardening.LABEL_OWNER, "")
    if owner:
        bind_owner_engine(owner, address)
    return container_id, shell


def _unreachable_nodes() -> tuple[str, ...]:
    """Nodes whose engine refused us lately (Swarm marks a dead node down ~13 s later)."""
    now = time.monotonic()
    with _lock:
        for node_id, since in list(_unreachable.items()):
            if now - since > UNREACHABLE_FOR:
                del _unreachable[node_id]
        return tuple(sorted(_unreachable))


def _assigned_node(manager: str, service: str) -> swarm.Node:
    """The node Swarm assigned the placeholder's task to. Assigned is enough: the slot is
    reserved from then on, and the sandbox need not wait for the placeholder to run (should
    its task end later, the reaper starts it again: _hold_ended_placeholders)."""
    deadline = time.monotonic() + PLACE_TIMEOUT
    full_since: float | None = None
    while True:
        task = call_on_sync(manager, swarm.task_of, service)
        now = time.monotonic()
        if task is not None and task.node_id and task.state not in ("failed", "rejected"):
            for node in call_on_sync(manager, swarm.nodes):
                if node.id == task.node_id:
                    return node
        if task is not None and "insufficient resources" in task.error:
            full_since = full_since if full_since is not None else now
            if now - full_since >= FULL_AFTER:
                raise EngineUnavailable(full_message())
        if now > deadline or (task is not None and task.state in ("failed", "rejected")):
            detail = task.error if task is not None else "no task"
            logger.warning("placeholder %s not placed: %s", service, detail)
            raise EngineUnavailable(full_message())
        time.sleep(0.05)


def remove_sync(container_id: str) -> str:
    """Blocking: removes the sandbox and its placeholder; returns its gateway folder label (""
    if none). A node that does not answer is taken as gone with its containers, but the id
    stays bound to it, so a watch for the removal knows it may still run there."""
    if not enabled():
        return call_sync(docker_containers.remove, container_id)
    folder = ""
    unanswered = False
    try:
        address = engine_of(container_id) or _locate(container_id)
    except EngineUnavailable:
        address = None  # nowhere to be seen: it is taken as gone with its node, as below
    if address is not None:
        try:
            folder = call_on_sync(address, docker_containers.remove, container_id)
        except EngineUnavailable:
            # Lost with its node. Should the node come back, the reaper finds the container
            # there without a row and removes it.
            logger.warning("sandbox %s: its node %s is gone", container_id[:12], address)
            unanswered = True
    with _lock:
        service = _placeholder_of.pop(container_id, None)
    if service is not None:
        with contextlib.suppress(EngineUnavailable):
            call_on_sync(_manager(), swarm.remove_service, service)
    if not unanswered:
        # Kept bound when its node did not answer: a watch for its removal (sandbox.shutdown)
        # then knows it may still run there, and does not count it removed.
        unbind_engine(container_id)
    return folder


def bind_owner(owner: str, container_id: str) -> None:
    """`owner`'s sandbox is now `container_id` (a warm one handed out): their gateway follows."""
    address = engine_of(container_id)
    if enabled() and owner and address is not None:
        bind_owner_engine(owner, address)


# --- Nodes ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Seen:
    """The sandboxes a look at the nodes found, and whether it looked at every node that may
    hold some. When not, a sandbox missing from `containers` may be alive on a node that was
    not looked at: its row, its placeholder and its gateway folder must stay."""

    containers: list[ManagedContainer]
    complete: bool
    # The engines looked at (with placement on): engine address -> its Swarm node's id.
    answered: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def listed(self) -> frozenset[str]:
        """The ids of `containers`."""
        return frozenset(item.id for item in self.containers)

    def covers(self, container_id: str) -> bool:
        """Whether this look would have seen `container_id`: every node was looked at, or the
        engine it was on answered (so a node that never answers does not keep every other
        node's lost rows for ever)."""
        return self.complete or engine_of(container_id) in self.answered

    def shows_removed(self, container_id: str) -> bool:
        """For a container this process is removing: whether this look shows it gone. Not
        found, and the look covers it, or it is bound to no engine (its removal is done; one
        its node did not answer keeps it bound there, see remove_sync)."""
        if container_id in self.listed:
            return False
        return engine_of(container_id) is None or self.covers(container_id)


def _engines() -> list[tuple[swarm.Node, str]]:
    """(node, engine address) of every node that may hold sandboxes: all but those Swarm
    knows are down. Drained ones too (their sandboxes live until their students move), and
    those whose state Swarm is unsure of: after a change of leader every node is «unknown»
    until it checks in again, and one whose session dropped is «disconnected», while their
    sandboxes may still run (an attack review found a pass of the reaper, in such a moment,
    forgetting them all)."""
    found = call_on_sync(_manager(), swarm.nodes)
    return [(node, engine_address(node)) for node in found if node.state != "down"]


def _locate(container_id: str) -> str | None:
    """Finds which node's engine holds a container (after a restart of Muelle nothing is bound
    yet); binds and returns it, or None when no node holds it. EngineUnavailable when it was
    not found while a node that may hold it did not answer: a slow node is not a lost one."""
    seen = _scan()
    address = engine_of(container_id)
    if address is None and not seen.complete:
        raise EngineUnavailable(no_engine_message(None))
    return address


def _scan(*, ask_again: bool = True) -> Seen:
    complete = True
    answered: dict[str, str] = {}
    found: list[ManagedContainer] = []
    engines = _engines()
    looks = [
        _look_pool.submit(look_on_sync, address, docker_containers.managed)
        for _node, address in engines
    ]
    # A node that did not answer is asked once more, all of them at once: one busy for a
    # moment (its engine just back, the machine loaded) is then not a pass that sees too little.
    # Not for the shutdown's watch, which looks again every moment and has a budget to keep.
    again: dict[str, Future[list[ManagedContainer]]] = {}
    for (_node, address), look in zip(engines, looks, strict=True):
        if ask_again and look.exception() is not None:
            again[address] = _look_pool.submit(look_on_sync, address, docker_containers.managed)
    for (node, address), look in zip(engines, looks, strict=True):
        try:
            items = again[address].result() if address in again else look.result()
        except EngineUnavailable:
            complete = False  # down and Swarm does not know yet, or only slow to answer
            continue
        answered[address] = node.id
        for item in items:
            bind_engine(item.id, address)
            service = item.labels.get(LABEL_PLACEMENT)
            if service:
                with _lock:
                    _placeholder_of.setdefault(item.id, service)
        found.extend(items)
    return Seen(found, complete, answered)


async def managed(*, ask_again: bool = True) -> Seen:
    """Every sandbox of this instance on every engine (for the reaper); also removes the
    placeholders whose sandbox is nowhere (a crash between the two, a node lost), when every
    node was looked at. `ask_again=False`: a node that did not answer is not asked twice."""
    if not enabled():
        return Seen(await call(docker_containers.managed), complete=True)
    return await in_pool(_managed_everywhere, ask_again)


def _managed_everywhere(ask_again: bool) -> Seen:
    seen = _scan(ask_again=ask_again)
    if not seen.complete:
        return seen
    wanted = {item.labels.get(LABEL_PLACEMENT) for item in seen.containers}
    services = call_on_sync(_manager(), swarm.placeholders, settings.SANDBOX_INSTANCE)
    now = datetime.now(UTC)
    for name, created in services.items():
        if name in wanted:
            continue
        try:
            born = datetime.fromisoformat(created[:19]).replace(tzinfo=UTC)
        except ValueError:
            continue
        if (now - born).total_seconds() > SWEEP_GRACE:
            with contextlib.suppress(EngineUnavailable):
                call_on_sync(_manager(), swarm.remove_service, name)
    return seen


async def hold_ended_placeholders(seen: Seen, keep: set[str]) -> None:
    """For the reaper, after its removals: the placeholders of the sandboxes in `keep` (running,
    not being removed) whose task ended are started again, each pinned to its sandbox's node."""
    if enabled() and seen.complete and keep:
        await in_pool(_hold_ended_placeholders, seen, keep)


def _hold_ended_placeholders(seen: Seen, keep: set[str]) -> None:
    # A placeholder is never restarted: once its task ends (its container killed or stopped,
    # the node drained) it holds no slot, and Swarm counts that node one sandbox short and
    # sends it one more. On its sandbox's node it waits, pending, if the node filled meanwhile
    # (or is drained). Once per ended task: the task that replaces it is the newest from then
    # on. A task the node rejected is left (see swarm.ended_placeholders): started again there
    # it would be rejected again, every pass.
    ended = call_on_sync(_manager(), swarm.ended_placeholders, settings.SANDBOX_INSTANCE)
    for item in seen.containers:
        service = item.labels.get(LABEL_PLACEMENT, "")
        node_id = seen.answered.get(engine_of(item.id) or "")
        if item.id not in keep or service not in ended or node_id is None:
            continue
        logger.warning("placeholder %s had ended: held again on node %s", service, node_id)
        try:
            call_on_sync(_manager(), swarm.hold_again_on, service, ended[service], node_id)
        except Exception:
            # The others still get theirs; this one is tried again at the next pass.
            logger.warning("could not hold placeholder %s again", service, exc_info=True)


# The reaper's other looks at the nodes go by its scan (`seen`), not by a new list of nodes:
# a node that did not answer the scan is not asked again in the same pass (each ask would wait
# out a timeout, long enough for Swarm to mark it down meanwhile), and a node marked down
# meanwhile is not taken as looked at.


def student_engines(seen: Seen) -> list[str] | None:
    """Where students' objects can be, of the nodes that answered the scan (for the reaper's
    sweep of what students without a sandbox left); None with local placement (this server's
    engine)."""
    if not enabled():
        return None
    return sorted(seen.answered)


async def gateway_folders(seen: Seen) -> set[str] | None:
    """The gateway folder names that containers mount, on every engine; None when a node that
    may hold some could not be asked (then no folder may be taken for unused)."""
    if not enabled():
        return await call(docker_containers.gateway_folders)
    if not seen.complete:
        return None

    def everywhere() -> set[str] | None:
        folders: set[str] = set()
        for address in seen.answered:
            try:
                folders |= call_on_sync(address, docker_containers.gateway_folders)
            except EngineUnavailable:
                return None
        return folders

    return await in_pool(everywhere)


# --- Students ---------------------------------------------------------------------------------


async def move_reason(container_id: str, owner: str = "") -> str | None:
    """None while the sandbox's node serves it; else why the student gets a new one (Spanish),
    remembered for their terminal (take_move_notice)."""
    if not enabled():
        return None
    reason = await in_pool(_move_reason, container_id)
    if reason is not None and owner:
        with _lock:
            _moved[owner] = reason
    elif owner:
        bind_owner(owner, container_id)  # adopted after a restart: the gateway follows
    return reason


def _move_reason(container_id: str) -> str | None:
    nodes = {engine_address(node): node for node in call_on_sync(_manager(), swarm.nodes)}
    address = engine_of(container_id) or _locate(container_id)
    node = nodes.get(address or "")
    if node is None or node.state == "down":
        return lost_message()
    # Ready, or a state Swarm is unsure of for now (unknown after a change of leader,
    # disconnected): the node's own engine answering is what says it still serves.
    if node.availability != "active":
        return drained_message()
    try:
        call_on_sync(address or "", lambda api: api.ping())
    except EngineUnavailable:
        return lost_message()  # Swarm notices a dead node only after some seconds
    return None


async def lost_node_message(container_id: str) -> str | None:
    """When a sandbox's shell died with its node: what the terminal says instead of «stopped
    from outside» (Spanish); None otherwise, or when that cannot be told (never raises)."""
    if not enabled():
        return None
    try:
        reason = await in_pool(_move_reason, container_id)
    except Exception:
        logger.warning("could not tell whether %s lost its node", container_id[:12], exc_info=True)
        return None
    if reason != lost_message():
        return None
    return _(
        "El servidor donde estaba tu entorno de práctica ha dejado de responder. Vuelve a "
        "conectar y tendrás uno nuevo en otro servidor; tu progreso en las lecciones está "
        "intacto, pero los archivos y contenedores de este entorno se han perdido."
    )


def take_move_notice(owner: str) -> str | None:
    """Why `owner`'s sandbox was replaced, once (their terminal says it)."""
    with _lock:
        return _moved.pop(owner, None)
