"""The gateway's own calls to the course registry's HTTP API (distribution v2).

Only the gateway talks to the registry this way (quotas, existence checks, `docker search`,
deleting a student's images); pushes and pulls are made by the engine. Plain urllib run in a
worker thread: a handful of small requests per push, and the event loop never blocks.
A student's repositories are `<student key>/<path>`: the key is what separates students.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import GatewayConfig
from .names import Namespace

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
TIMEOUT = 10.0
CATALOG_PAGE = 1000


def course_names(config: GatewayConfig, ns: Namespace) -> Callable[[bytes], bytes]:
    """A line rewriter for what the engine says about a push or pull (progress, events): the
    student's prefixes out, and the real address and key replaced by the course name:
    `127.0.0.1:5000/<key>/app` reads `registro.muelle/app` and `Pulling from <key>/app` reads
    `Pulling from app`, as the CLI prints for any registry."""
    address = config.registry_address.encode()
    if not address:
        return ns.strip_bytes
    name = config.registry_name.encode()
    key = ns.key.encode()
    # The engine mounts a layer it pushed before from any repository of the registry, and says
    # whose: "Mounted from <another student's key>/<their repository>". It reads "Pushed", as
    # if nobody had it: even a bare "Mounted" told that someone had pushed that very layer.
    others = re.compile(rb"Mounted from [0-9a-f]{%d}/[^\"\\]*" % len(key))

    def rewrite(line: bytes) -> bytes:
        line = ns.strip_bytes(line)
        line = line.replace(address + b"/" + key + b"/", name + b"/")
        line = line.replace(key + b"/", b"")
        line = others.sub(b"Pushed", line)
        return line.replace(address, name)

    return rewrite


class RegistryDown(Exception):
    """The registry did not answer, or answered with a server error."""


@dataclass(frozen=True)
class Usage:
    tags: frozenset[tuple[str, str]]  # (repository, tag)
    blobs: dict[str, int]  # digest -> bytes, of the distinct blobs those tags refer to

    @property
    def size(self) -> int:
        return sum(self.blobs.values())


class RegistryClient:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        if config.registry_scheme not in ("http", "https"):
            raise ValueError(f"registry scheme must be http or https: {config.registry_scheme}")
        self.base = f"{config.registry_scheme}://{config.registry_address}"
        token = f"{config.registry_username}:{config.registry_password}".encode()
        self._auth = "Basic " + base64.b64encode(token).decode()

    @property
    def configured(self) -> bool:
        return bool(self.config.registry_address)

    def engine_auth(self) -> str:
        """X-Registry-Auth for the engine's push or pull: Muelle's credentials, never the
        student's (base64url JSON, as the CLI encodes it)."""
        data = {
            "username": self.config.registry_username,
            "password": self.config.registry_password,
            "serveraddress": self.config.registry_address,
        }
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()

    # --- HTTP -----------------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, accept: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": self._auth}
        if accept:
            headers["Accept"] = accept
        # The scheme comes from REGISTRY_URL and is checked in __init__: http or https only.
        request = urllib.request.Request(self.base + path, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code == 401:
                # 401: Muelle's own credentials are wrong, which a student cannot fix either.
                raise RegistryDown(f"{error.code} {path}") from None
            return error.code, dict(error.headers), error.read()
        except (urllib.error.URLError, OSError) as error:
            raise RegistryDown(str(error)) from None

    async def call(
        self, method: str, path: str, accept: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        if not self.configured:
            raise RegistryDown("no registry configured")
        return await asyncio.to_thread(self._call, method, path, accept)

    # --- reads ----------------------------------------------------------------------------------
    async def ping(self) -> None:
        status, _headers, _body = await self.call("GET", "/v2/")
        if status != 200:
            raise RegistryDown(f"/v2/ answered {status}")

    async def repositories(self, key: str) -> list[str]:
        """The student's repositories (`<key>/...`), from the catalog."""
        return [n for n in await self.all_repositories() if n.startswith(f"{key}/")]

    async def all_repositories(self) -> list[str]:
        """The whole catalog, a page at a time (distribution serves at most 1000 a page)."""
        names: list[str] = []
        last = ""
        while True:
            query = f"?n={CATALOG_PAGE}" + (f"&last={urllib.parse.quote(last)}" if last else "")
            status, _headers, body = await self.call("GET", f"/v2/_catalog{query}")
            if status != 200:
                raise RegistryDown(f"catalog answered {status}")
            page = list(json.loads(body).get("repositories") or [])
            names += page
            if len(page) < CATALOG_PAGE:
                return names
            last = page[-1]

    async def tags(self, repository: str) -> list[str]:
        status, _headers, body = await self.call("GET", f"/v2/{repository}/tags/list")
        if status == 404:
            return []
        return list(json.loads(body).get("tags") or [])

    async def manifest(self, repository: str, reference: str) -> tuple[str, Any] | None:
        """(digest, manifest) of a tag, or None when the registry does not have it."""
        status, headers, body = await self.call(
            "GET", f"/v2/{repository}/manifests/{reference}", MANIFEST_TYPES
        )
        if status != 200:
            return None
        digest = {k.lower(): v for k, v in headers.items()}.get("docker-content-digest", "")
        return digest, json.loads(body)

    async def usage(self, key: str) -> Usage:
        tags: set[tuple[str, str]] = set()
        blobs: dict[str, int] = {}
        for repository in await self.repositories(key):
            for tag in await self.tags(repository):
                tags.add((repository, tag))
                found = await self.manifest(repository, tag)
                if found is None:
                    continue
                manifest = found[1]
                for blob in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
                    if blob.get("digest"):
                        blobs[blob["digest"]] = int(blob.get("size") or 0)
        return Usage(frozenset(tags), blobs)

    # --- deletion -------------------------------------------------------------------------------
    async def delete_repositories(self, repositories: list[str]) -> int:
        """Deletes every tag's manifest (needs `storage.delete.enabled`); the blobs go at the
        registry's next garbage collection. Returns how many manifests were deleted."""
        deleted = 0
        for repository in repositories:
            digests = set()
            for tag in await self.tags(repository):
                found = await self.manifest(repository, tag)
                if found and found[0]:
                    digests.add(found[0])
            for digest in sorted(digests):
                status, _headers, _body = await self.call(
                    "DELETE", f"/v2/{repository}/manifests/{digest}"
                )
                deleted += status == 202
        return deleted

    async def delete_student(self, key: str) -> int:
        return await self.delete_repositories(await self.repositories(key))
