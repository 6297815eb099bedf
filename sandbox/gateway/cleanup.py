"""Removing everything a student created: containers, networks, volumes, images, build cgroup.

Found by the labels the gateway set (and, for tags a student put on a course image, by the
student's name prefix), never by anything the student could choose.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sandbox.engine_names import LABEL_PORT_LOOPBACK
from sandbox.loop_state import PerLoop

from . import registry_space
from .build_cgroup import remove_build_cgroup
from .config import GatewayConfig, current_config, engine_resolver
from .errors import EngineError
from .names import LABEL_INSTANCE, LABEL_STUDENT, PREFIXED, instance_key, student_key
from .project import remove_unused_volumes, sweep_volumes
from .registry_client import RegistryClient, RegistryDown
from .student import Student, known_tags
from .upstream import Upstream
from .wire import ProtocolError

log = logging.getLogger("sandbox.gateway")


@dataclass
class CleanupReport:
    containers: int = 0
    networks: int = 0
    volumes: int = 0
    images: int = 0
    registry: int = 0  # manifests deleted from the course registry (not in `total`)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.containers + self.networks + self.volumes + self.images


async def _delete(
    engine: Upstream, path: str, query: dict[str, str], report: CleanupReport
) -> bool:
    try:
        response = await engine.request("DELETE", path, query=query)
    except OSError as exc:
        report.errors.append(f"{path}: {exc}")
        return False
    if response.status in (200, 204):
        return True
    if response.status != 404:
        report.errors.append(f"{path}: {response.status} {response.message}")
    return False


def _config(config: GatewayConfig | None) -> GatewayConfig:
    return config if config is not None else current_config()


async def cleanup_student(
    owner: str, config: GatewayConfig | None = None, engine: Upstream | None = None
) -> CleanupReport:
    """Removes every container, network, volume and image `owner` created through the gateway;
    on `engine` when given (a Swarm node the sweep found them on), else on their sandbox's."""
    config = _config(config)
    if engine is None:
        engine = Upstream(config.engine_socket, engine_resolver(owner))
    student = Student(owner, config, engine)
    report = CleanupReport()

    containers = await student.containers()
    results = await asyncio.gather(
        *(
            _delete(engine, f"/containers/{c['Id']}", {"force": "1", "v": "1"}, report)
            for c in containers
        )
    )
    report.containers = sum(results)
    for network in await student.networks():
        report.networks += await _delete(engine, f"/networks/{network['Id']}", {}, report)
    for volume in await student.volumes():
        report.volumes += await _delete(
            engine, f"/volumes/{volume['Name']}", {"force": "1"}, report
        )
    report.images = await _remove_images(student, report)
    report.registry = await _remove_registry_images(config, [student.ns.key], report)
    remove_build_cgroup(config, student.ns.key)
    if report.errors:
        log.warning("cleanup of %s left errors: %s", student.ns.key, report.errors)
    return report


class SharedImageListing:
    """The engine's list of every image (layers included), shared by the clean-ups that need it
    at once. Listing costs the engine ~20 ms of CPU with a hundred images on it (and Muelle the
    parsing), and a class leaving at once asked for it once per student.

    A clean-up may only use a listing begun after its mark(): it takes the mark where it listed
    on its own before (its student's gateway closed, their containers removed: nothing of theirs
    appears after that), and again after removing images, to see what is left. An older listing
    could miss an image made just before. Listings are numbered, so "after" does not depend on a
    clock's resolution."""

    def __init__(self) -> None:
        self.started = 0
        self._listing: asyncio.Future[list[Any]] | None = None

    def mark(self) -> int:
        return self.started

    async def images(self, engine: Upstream, since: int) -> list[Any]:
        """Every image on `engine`, from a listing begun after mark() returned `since`."""
        while True:
            listing = self._listing
            if listing is not None and self.started > since:
                return await asyncio.shield(listing)  # begun after the mark: valid, shared
            if listing is not None and not listing.done():
                await asyncio.wait([listing])  # begun before the mark: the next one, then
                continue
            self.started += 1
            self._listing = asyncio.ensure_future(
                engine.json("GET", "/images/json", query={"all": "1"})
            )
            # Its error is each waiter's; retrieved here too, for when every waiter was cancelled.
            self._listing.add_done_callback(lambda done: done.cancelled() or done.exception())


# Per event loop (Upstream's connections belong to one) and per engine (a Swarm node's own).
_listings: PerLoop[dict[str, SharedImageListing]] = PerLoop(dict)


async def image_listing(engine: Upstream) -> SharedImageListing:
    """The shared image listing of `engine` on this event loop."""
    return _listings.get().setdefault(await engine.address(), SharedImageListing())


async def _remove_images(student: Student, report: CleanupReport) -> int:
    removed = 0
    ns = student.ns
    # Where a listing of its own began before: the gateway is closed, the containers are gone.
    listing = await image_listing(student.engine)
    since = listing.mark()
    for _round in range(8):  # a removed child can leave a labelled parent to remove next
        own = []
        for image in await listing.images(student.engine, since):
            # What Student.image_visibility calls "own", each half once (everyone else's
            # images need no classifying here).
            tags = known_tags(image.get("RepoTags"))
            own_tags = [t for t in tags if ns.owns_image_tag(t)]
            labelled = ns.owns_labels(image.get("Labels"))
            if labelled or own_tags:
                own.append((image, tags, own_tags, labelled))
        if not own:
            break
        # Every layer of a student's build carries their labels: a parent goes with its child
        # (the engine removes the untagged layers under an image it deletes), or next round.
        parents = {image.get("ParentId") for image, *_rest in own}
        for image, tags, own_tags, labelled in own:
            if image["Id"] in parents:
                continue
            if labelled and len(own_tags) == len(tags):
                removed += await _delete(
                    student.engine, f"/images/{image['Id']}", {"force": "1"}, report
                )
            else:
                # The student's tag on someone else's image (a course image): untag only.
                for tag in own_tags:
                    removed += await _delete(student.engine, f"/images/{tag}", {}, report)
        since = listing.mark()
    return removed


async def _remove_registry_images(
    config: GatewayConfig, keys: list[str], report: CleanupReport
) -> int:
    """What the students pushed goes with their objects (docs/registry.md): their repositories'
    manifests are deleted through the registry API; the blobs at its next garbage collection.
    A registry that is down leaves them for the reaper's next sweep, and never stops a cleanup."""
    client = RegistryClient(config)
    if not client.configured or not keys:
        return 0
    try:
        async with registry_space.in_use():
            repositories = await client.all_repositories()
            mine = [r for r in repositories if r.partition("/")[0] in keys]
            deleted = await client.delete_repositories(mine)
        if deleted:
            registry_space.deleted()  # their blobs wait for the next collection
        return deleted
    except RegistryDown as exc:
        report.errors.append(f"registry: {exc}")
        return 0


async def _sweep_registry(config: GatewayConfig, live: set[str]) -> None:
    """Repositories of this instance's students with no live sandbox (left by a crash, or by a
    registry that was down at their cleanup)."""
    client = RegistryClient(config)
    if not client.configured:
        return
    ours = instance_key(config.instance)
    live_keys = {student_key(config.instance, owner) for owner in live}
    try:
        repositories = await client.all_repositories()
    except RegistryDown:
        return
    keys = {
        r.partition("/")[0]
        for r in repositories
        if r.startswith(ours) and r.partition("/")[0] not in live_keys
    }
    await _remove_registry_images(config, sorted(keys), CleanupReport())


async def sweep_orphans(
    live_owners: Iterable[str],
    config: GatewayConfig | None = None,
    engines: Iterable[str] | None = None,
) -> list[str]:
    """For the reaper: cleans every student of this instance who has objects on an engine but
    no live sandbox (e.g. after a crash). `engines`: every Swarm node's engine address (what a
    web process that died left on a node is only there); None, this server's engine. A node
    that does not answer is skipped (the next pass tries again). Returns the owners cleaned."""
    config = _config(config)
    # First, and never raising: an engine that fails below must not leave the disk to fill.
    await registry_space.trim_log(config)
    live = set(live_owners)
    if engines is None:
        upstreams = [Upstream(config.engine_socket)]
    else:
        # A node's tcp:// address; Upstream reaches it over the node's mutual TLS.
        upstreams = [Upstream(address) for address in engines]
    cleaned: set[str] = set()
    for engine in upstreams:
        # Each part on its own: volumes left unused are swept even where a student's clean-up
        # failed, and the other nodes and the registry are swept either way. A node that is
        # not reached is not tried a second time in this pass.
        sweeps = (
            partial(_sweep_engine, engine, config, live),
            partial(_sweep_unused_volumes, engine),
        )
        for sweep in sweeps:
            try:
                cleaned |= await sweep()
            except EngineError as exc:  # the engine answered, with an error
                if engines is None:
                    raise
                log.warning("sweep: engine %s refused: %s", await engine.address(), exc)
            except (OSError, ProtocolError) as exc:
                # Through the TLS relay a node that just died closes the connection unanswered.
                if engines is None:
                    raise
                log.warning("sweep: engine %s not reached: %s", await engine.address(), exc)
                break
    await _sweep_registry(config, live)
    # What pushes and clean-ups left on the registry's disk is freed here, at a quiet moment.
    await registry_space.collect_if_due(config)
    return sorted(cleaned)


async def _sweep_engine(engine: Upstream, config: GatewayConfig, live: set[str]) -> set[str]:
    label_filter = {"label": [f"{LABEL_INSTANCE}={config.instance}", LABEL_STUDENT]}
    query = {"filters": json.dumps(label_filter)}
    owners: set[str] = set()
    containers = await engine.json("GET", "/containers/json", query={**query, "all": "1"})
    networks = await engine.json("GET", "/networks", query=query)
    volumes = (await engine.json("GET", "/volumes", query=query)).get("Volumes") or []
    images = await engine.json("GET", "/images/json", query={**query, "all": "1"})
    for item in [*containers, *networks, *volumes, *images]:
        owner = (item.get("Labels") or {}).get(LABEL_STUDENT)
        if owner and owner not in live:
            owners.add(owner)
    for owner in sorted(owners):
        await cleanup_student(owner, config, engine)
    await _untag_orphan_tags(engine, config, live)
    return owners


async def _sweep_unused_volumes(engine: Upstream) -> set[str]:
    """Project volumes no container uses any more; and the socket volumes of `curl localhost`
    on a Swarm node whose sandbox ended while a port carrier still shared it (a web process
    that died; none on a single engine). Cleans no student: returns nobody."""
    removed = await sweep_volumes(engine)
    removed += await remove_unused_volumes(engine, LABEL_PORT_LOOPBACK)
    if removed:
        # Named, so an operator (and a test) can tell which pass took a volume: the sweep is
        # engine-wide, so another web process's pass may take one first.
        log.info("sweep: removed unused volumes %s", ", ".join(sorted(removed)))
    return set()


async def _untag_orphan_tags(engine: Upstream, config: GatewayConfig, live: set[str]) -> None:
    """Tags like m<key>/name on course images carry no label; their key tells the instance."""
    ours = instance_key(config.instance)
    live_keys = {student_key(config.instance, owner) for owner in live}
    report = CleanupReport()
    images: list[Any] = await engine.json("GET", "/images/json")
    for image in images:
        for tag in image.get("RepoTags") or []:
            match = PREFIXED.match(tag)
            if not match or not tag.startswith(f"m{ours}"):
                continue
            key = match.group(0)[1:-1]
            if key not in live_keys:
                await _delete(engine, f"/images/{tag}", {}, report)


__all__ = [
    "CleanupReport",
    "EngineError",
    "SharedImageListing",
    "cleanup_student",
    "image_listing",
    "sweep_orphans",
]
