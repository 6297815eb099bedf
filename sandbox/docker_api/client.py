"""The shared Docker client and the thread pool every blocking SDK call runs in.

Every blocking SDK call runs in a dedicated ThreadPoolExecutor (settings.SANDBOX_DOCKER_THREADS),
never on the event loop and never on asyncio's default executor. An engine that does not answer
becomes EngineUnavailable, with a Spanish message a student or an instructor can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
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

T = TypeVar("T")

PING_TIMEOUT = 3.0  # an absent engine must fail fast
API_TIMEOUT = 60.0

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
    return _(
        "No responde ningún motor de Docker (en %(host)s). Arráncalo (por ejemplo: sudo "
        "systemctl start docker) o instálalo si falta (sudo apt-get install docker.io); "
        "./scripts/serve hace las dos cosas cuando puede."
    ) % {"host": host or engine_address()}


def image_missing_message() -> str:
    return _(
        "Falta la imagen del curso %(image)s en el motor de Docker. Constrúyela con "
        "«python manage.py build_images» (./scripts/serve lo hace al arrancar)."
    ) % {"image": settings.SANDBOX_IMAGE}


_client_lock = threading.Lock()
_client: tuple[str, docker.APIClient] | None = None
_executor: ThreadPoolExecutor | None = None


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


def executor() -> ThreadPoolExecutor:
    global _executor
    with _client_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=settings.SANDBOX_DOCKER_THREADS, thread_name_prefix="muelle-docker"
            )
        return _executor


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    """Turns 'nobody answers' into EngineUnavailable; leaves API errors as they are."""
    try:
        yield
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        ConnectionError,
        FileNotFoundError,
    ) as exc:
        _forget_client()
        raise EngineUnavailable(no_engine_message()) from exc
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(image_missing_message()) from exc


def call_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(api, *args, **kwargs) with engine errors mapped; blocking."""
    with engine_errors():
        return fn(client(), *args, **kwargs)


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
