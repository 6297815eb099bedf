"""The shared Docker client and the thread pool every blocking SDK call runs in.

Every blocking SDK call runs in a dedicated ThreadPoolExecutor (settings.SANDBOX_DOCKER_THREADS),
never on the event loop and never on asyncio's default executor. An engine that does not answer
becomes EngineUnavailable, with a Spanish message a student or an instructor can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from django.conf import settings
from django.utils.translation import gettext as _

from . import node_tls

logger = logging.getLogger(__name__)

T = TypeVar("T")

PING_TIMEOUT = 3.0  # an absent engine must fail fast
API_TIMEOUT = 60.0
# A look at a node (its list of sandboxes): a healthy engine answers in milliseconds, and a node
# that hangs (its dockerd stopped, its machine swapping) must not hold a reaper pass or the
# shutdown's watch for a minute: the look is taken as not answered, which forgets nothing
# and moves no student (placement: a sandbox not found while a node did not answer is kept).
LOOK_TIMEOUT = 3.0

# The SDK's base error, for callers that must catch it without importing `docker` (status.py).
DockerException = docker.errors.DockerException


class EngineUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImageMissing(EngineUnavailable):
    pass


class SandboxGone(Exception):
    pass


def no_engine_message(host: str | None = None) -> str:
    """What a student (or whoever runs this Muelle) reads when an engine does not answer. A
    Swarm node's address is logged, not shown: the message reaches students' terminals, and
    the addresses of the nodes are nothing of theirs (found by an attack review)."""
    if host is not None and host != engine_address():
        return _(
            "No responde el motor de Docker de uno de los servidores de práctica. Vuelve a "
            "intentarlo dentro de un rato."
        )
    return _(
        "No responde ningún motor de Docker (en %(host)s). Arráncalo (por ejemplo: sudo "
        "systemctl start docker) o instálalo si falta (sudo apt-get install docker.io); "
        "./scripts/serve hace las dos cosas cuando puede."
    ) % {"host": host or engine_address()}


def _unavailable(address: str | None) -> EngineUnavailable:
    """The error for an engine that did not answer; a node's address goes to the log, since
    the message (no_engine_message) does not show it."""
    if address is not None and address != engine_address():
        logger.warning("no answer from the engine at %s", address)
    return EngineUnavailable(no_engine_message(address))


def image_missing_message() -> str:
    return _(
        "Falta la imagen del curso %(image)s en el motor de Docker. Constrúyela con "
        "«python manage.py build_images» (./scripts/serve lo hace al arrancar)."
    ) % {"image": settings.SANDBOX_IMAGE}


_client_lock = threading.Lock()
_client: tuple[str, docker.APIClient] | None = None
_executor: ThreadPoolExecutor | None = None
# Several engines (sandboxes placed across a Swarm, sandbox/placement/): a client per engine
# address, and the engine each container (or exec session) lives on. Every container call names
# its container first, so call_sync() routes it there and no caller has to know about nodes.
_engines: dict[str, docker.APIClient] = {}
_lookers: dict[str, docker.APIClient] = {}  # the same engines, with LOOK_TIMEOUT
_engine_of: dict[str, str] = {}
_execs_of: dict[str, list[str]] = {}  # forgotten with their container
# A student's Docker gateway forwards to the engine of their newest sandbox (placement binds it).
_owner_engine: dict[str, str] = {}


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def client() -> docker.APIClient:
    """The shared low-level client, rebuilt when DOCKER_HOST changes. Blocking: call it only
    from the Docker thread pool (or from sync code such as management commands)."""
    global _client
    host = engine_address()
    with _client_lock:
        if _client is not None and _client[0] == host:
            return _client[1]
    try:
        # version="auto" asks the engine once; the short timeout makes an absent engine fail
        # fast, then ordinary calls get the longer one.
        api = docker.APIClient(
            version="auto", timeout=PING_TIMEOUT, **docker.utils.kwargs_from_env()
        )
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(no_engine_message(host)) from exc
    api.timeout = API_TIMEOUT
    with _client_lock:
        _client = (host, api)
    return api


def _forget_client() -> None:
    global _client
    with _client_lock:
        _client = None


def client_for(address: str, *, look: bool = False) -> docker.APIClient:
    """The client of the engine at `address` (unix:// or tcp://); blocking, like client(). A
    tcp:// engine is reached through mutual TLS when it is configured (node_tls: the SDK, and
    the exec streams it hijacks, talk to a local relay that carries each connection in TLS).
    `look`: another client of it, whose calls give up after LOOK_TIMEOUT."""
    cache = _lookers if look else _engines
    with _client_lock:
        api = cache.get(address)
    if api is not None:
        return api
    try:
        api = docker.APIClient(
            base_url=node_tls.local_address(address), version="auto", timeout=PING_TIMEOUT
        )
    except docker.errors.DockerException as exc:
        raise _unavailable(address) from exc
    api.timeout = LOOK_TIMEOUT if look else API_TIMEOUT
    with _client_lock:
        return cache.setdefault(address, api)


def bind_engine(object_id: str, address: str) -> None:
    """`object_id` (a container, or an exec session) lives on the engine at `address`."""
    with _client_lock:
        _engine_of[object_id] = address


def bind_like(object_id: str, container_id: str) -> None:
    """`object_id` (an exec session) lives where `container_id` does."""
    with _client_lock:
        address = _engine_of.get(container_id)
        if address is not None:
            _engine_of[object_id] = address
            _execs_of.setdefault(container_id, []).append(object_id)


def engine_of(object_id: str) -> str | None:
    """The engine a container or exec session was bound to; None: the default engine."""
    with _client_lock:
        return _engine_of.get(object_id)


def bind_owner_engine(owner: str, address: str) -> None:
    with _client_lock:
        _owner_engine[owner] = address


def owner_engine(owner: str) -> str | None:
    """The engine of `owner`'s newest sandbox, once placement bound it; None: not known here."""
    with _client_lock:
        return _owner_engine.get(owner)


def unbind_engine(*object_ids: str) -> None:
    with _client_lock:
        for object_id in object_ids:
            _engine_of.pop(object_id, None)
            for exec_id in _execs_of.pop(object_id, []):
                _engine_of.pop(exec_id, None)


def executor() -> ThreadPoolExecutor:
    global _executor
    with _client_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=settings.SANDBOX_DOCKER_THREADS, thread_name_prefix="muelle-docker"
            )
        return _executor


@contextlib.contextmanager
def engine_errors(address: str | None = None) -> Iterator[None]:
    """Turns 'nobody answers' into EngineUnavailable; leaves API errors as they are."""
    try:
        yield
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        ConnectionError,
        FileNotFoundError,
    ) as exc:
        if address is None:
            _forget_client()
        raise _unavailable(address) from exc
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(image_missing_message()) from exc


def call_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(api, *args, **kwargs) with engine errors mapped; blocking. When args[0] is a container
    or exec session bound to another engine (bind_engine), fn runs against that engine."""
    address = engine_of(args[0]) if args and isinstance(args[0], str) else None
    if address is not None:
        try:
            return call_on_sync(address, fn, *args, **kwargs)
        except EngineUnavailable as exc:
            # Its node is lost, not the whole service: to the caller the sandbox is gone, and
            # the next acquire() gives the student a new one elsewhere (sandbox/placement/).
            raise SandboxGone(args[0]) from exc
    with engine_errors():
        return fn(client(), *args, **kwargs)


def call_on_sync(address: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(api, *args, **kwargs) against the engine at `address`; blocking."""
    with engine_errors(address):
        return fn(client_for(address), *args, **kwargs)


def look_on_sync(address: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """call_on_sync for a quick read (LOOK_TIMEOUT): a hung engine is EngineUnavailable soon."""
    with engine_errors(address):
        return fn(client_for(address, look=True), *args, **kwargs)


async def call_on(address: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await in_pool(partial(call_on_sync, address, fn, *args, **kwargs))


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(api, *args, **kwargs) in the Docker thread pool, with engine errors mapped."""
    return await in_pool(partial(call_sync, fn, *args, **kwargs))


async def in_pool(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in the Docker thread pool (blocking work made of several calls)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), partial(fn, *args))


def ping() -> None:
    """Raises EngineUnavailable unless an engine answers (blocking, short timeout)."""
    call_sync(lambda api: api.ping())


def version_and_image(api: docker.APIClient) -> tuple[str, str, bool]:
    """(engine version, API version, whether the course image is there); blocking."""
    api.ping()
    version = api.version()
    try:
        api.inspect_image(settings.SANDBOX_IMAGE)
        present = True
    except docker.errors.ImageNotFound:
        present = False
    return str(version.get("Version", "")), str(version.get("ApiVersion", "")), present
