"""One student as the gateway sees them: names, limits, the engine, and what they own.

Ownership always comes from labels the gateway set itself when it created the object
(muelle.managed, muelle.instance, muelle.student) and is looked up on the engine; nothing the
student sends can claim an object. Only positive answers are cached (object ids are never
reused), so a removed object simply stops resolving.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from .config import GatewayConfig
from .errors import EngineError, bad_request, not_found
from .names import (
    FULL_ID,
    HEX_ID,
    LABEL_COURSE,
    LABEL_STUDENT,
    PREFIXED,
    Namespace,
    is_course_tag,
    is_network_name,
    parse_image_ref,
)
from .upstream import Upstream


@dataclass(frozen=True)
class ResolvedImage:
    engine_ref: str  # what to send to the engine: it resolves to exactly this image
    id: str
    own: bool


def known_tags(tags: list[str] | None) -> list[str]:
    """An image's tags without the engine's placeholder for none."""
    return [t for t in tags or [] if t and t != "<none>:<none>"]


def _no_sandbox() -> str | None:
    return None


class Student:
    def __init__(
        self,
        owner: str,
        config: GatewayConfig,
        engine: Upstream,
        sandbox_folder: Callable[[], str | None] = _no_sandbox,
    ) -> None:
        self.owner = owner
        self.config = config
        self.engine = engine
        # The gateway folder their sandbox mounts while it is served here (its `muelle.gateway`
        # label names it): how their sandbox is found (published ports, the disk measure).
        self.sandbox_folder = sandbox_folder
        self.ns = Namespace(owner, config.instance)
        # Serialises the check-then-create of objects counted by quotas.
        self.lock = asyncio.Lock()
        self.build_lock = asyncio.Lock()
        # Images being made outside the lock (quotas.image_places), counted by the quota.
        self.images_in_making = 0
        # DOCKER_GATEWAY_MAX_DISK (disk_use.py): the bytes found at the last measure that put
        # the student past the limit (None: not past it), when that measure started, and when
        # they last deleted something (time.monotonic()).
        self.disk_over: int | None = None
        self.disk_measured = 0.0
        self.disk_deleted = 0.0
        # The files found by that measure when they were past DOCKER_GATEWAY_MAX_FILES.
        self.disk_files_over: int | None = None
        # That measure found a process of a container of theirs it could not see through.
        self.disk_unseen = False
        # A `docker save` of theirs is being streamed (the engine copies the images to its
        # disk first, until the stream ends): one at a time (handlers_images.save).
        self.saving = False
        # The measure of their files under way (disk_use._host_measure), shared by its callers.
        self.disk_task: asyncio.Task[Any] | None = None
        self.disk_task_started = 0.0
        self._own_containers: set[str] = set()
        self._exec_containers: dict[str, str] = {}
        self._pull_allowlist = {p.removeprefix("library/") for p in config.pull_allowlist}

    # --- containers ---------------------------------------------------------------------------
    def filters(self, extra: dict[str, list[str]] | None = None) -> str:
        merged: dict[str, list[str]] = {k: list(v) for k, v in (extra or {}).items()}
        merged.setdefault("label", [])
        merged["label"] = [*merged["label"], *self.ns.label_filters]
        return json.dumps(merged)

    async def containers(self, *, extra_filters: dict[str, list[str]] | None = None) -> list[Any]:
        return await self.engine.json(
            "GET",
            "/containers/json",
            query={"all": "1", "filters": self.filters(extra_filters)},
        )

    def remember_container(self, container_id: str) -> None:
        self._own_containers.add(container_id)

    async def container_id(self, ref: str) -> str:
        """The full id of the student's container named or id'd `ref`; 404 otherwise."""
        ref = ref.removeprefix("/")
        if ref in self._own_containers:
            return ref
        if FULL_ID.match(ref):
            info = await self.engine.get_or_none(f"/containers/{ref}/json")
            if info and self.ns.owns_labels((info.get("Config") or {}).get("Labels")):
                self._own_containers.add(ref)
                return ref
            raise _no_such_container(ref)
        if not (HEX_ID.match(ref) or _plain_name(ref)):
            raise _no_such_container(ref)
        engine_name = self.ns.object_prefix + ref
        by_name = None
        by_prefix = []
        for item in await self.containers():
            names = [n.removeprefix("/") for n in item.get("Names") or []]
            if engine_name in names:
                by_name = item["Id"]
            if item["Id"].startswith(ref):
                by_prefix.append(item["Id"])
        found = by_name or (by_prefix[0] if len(by_prefix) == 1 else None)
        if found is None and len(by_prefix) > 1:
            raise bad_request(
                _("Hay varios contenedores cuyo ID empieza por «%(ref)s»: escribe más caracteres.")
                % {"ref": ref}
            )
        if found is None:
            raise _no_such_container(ref)
        self._own_containers.add(found)
        return found

    async def exec_container(self, exec_id: str) -> str:
        """The container of an exec instance, if it is the student's; 404 otherwise."""
        if exec_id in self._exec_containers:
            return self._exec_containers[exec_id]
        if not FULL_ID.match(exec_id):
            raise not_found(_("No existe la instancia de exec: %(id)s") % {"id": exec_id})
        info = await self.engine.get_or_none(f"/exec/{exec_id}/json")
        if info is None:
            raise not_found(_("No existe la instancia de exec: %(id)s") % {"id": exec_id})
        try:
            container = await self.container_id(info.get("ContainerID", ""))
        except Exception:
            raise not_found(_("No existe la instancia de exec: %(id)s") % {"id": exec_id}) from None
        self._exec_containers[exec_id] = container
        return container

    def remember_exec(self, exec_id: str, container_id: str) -> None:
        self._exec_containers[exec_id] = container_id

    # --- networks and volumes -----------------------------------------------------------------
    async def networks(self) -> list[Any]:
        return await self.engine.json("GET", "/networks", query={"filters": self.filters()})

    async def network(self, ref: str) -> dict[str, Any]:
        """The student's network named or id'd `ref` (engine summary); 404 otherwise."""
        engine_name = self.ns.object_prefix + ref if is_network_name(ref) else None
        matches = []
        for item in await self.networks():
            if item.get("Name") == engine_name or item.get("Id") == ref:
                return item
            if HEX_ID.match(ref) and item.get("Id", "").startswith(ref):
                matches.append(item)
        if len(matches) == 1:
            return matches[0]
        raise not_found(_("No existe la red: %(ref)s") % {"ref": ref})

    async def volumes(self) -> list[Any]:
        data = await self.engine.json("GET", "/volumes", query={"filters": self.filters()})
        return data.get("Volumes") or []

    async def volume(self, name: str) -> dict[str, Any] | None:
        """The student's volume called `name` (inspect), or None."""
        if not _plain_name(name):
            return None
        info = await self.engine.get_or_none(f"/volumes/{self.ns.object_prefix}{name}")
        if info and self.ns.owns_labels(info.get("Labels")):
            return info
        return None

    # --- images -------------------------------------------------------------------------------
    def image_visibility(self, tags: list[str] | None, labels: dict[str, str] | None) -> str | None:
        """ "own", "shared" (course images, allowlisted pulls) or None (someone else's)."""
        tags = known_tags(tags)
        labels = labels or {}
        if self.ns.owns_labels(labels) or any(self.ns.owns_image_tag(t) for t in tags):
            return "own"
        if LABEL_STUDENT in labels:
            return None  # another student's, whatever else it claims
        # The course label alone is not enough: every layer a student's build makes on top of a
        # course image inherits it, untagged, with that student's files in it. A shared image
        # is one the course names: a course tag, or the label with a tag that is no student's.
        public_tags = [t for t in tags if not PREFIXED.match(t)]
        if any(is_course_tag(t) for t in tags) or (labels.get(LABEL_COURSE) == "1" and public_tags):
            return "shared"
        if any(self._allowlisted(t) for t in tags):
            return "shared"
        return None

    def _allowlisted(self, tag: str) -> bool:
        return self.pull_allowed(tag)

    def pull_allowed(self, ref_text: str) -> bool:
        """A Docker Hub reference whose repository is on the allowlist (any tag), or whose
        repository:tag is (a pinned entry such as "nginx:1.22": that tag only)."""
        ref = parse_image_ref(ref_text)
        if not (ref and ref.on_docker_hub):
            return False
        path = ref.hub_path()
        if path in self._pull_allowlist:
            return True
        return not ref.digest and f"{path}:{ref.tag or 'latest'}" in self._pull_allowlist

    async def image_summaries(self, *, all_layers: bool = False) -> list[tuple[str, Any]]:
        """Every image the student may see, with its visibility."""
        images = await self.engine.json(
            "GET", "/images/json", query={"all": "1" if all_layers else "0"}
        )
        out = []
        for image in images:
            visibility = self.image_visibility(image.get("RepoTags"), image.get("Labels"))
            if visibility:
                out.append((visibility, image))
        return out

    async def _inspect_visible(self, engine_ref: str) -> tuple[str, Any] | None:
        info = await self.engine.get_or_none(f"/images/{engine_ref}/json")
        if not info:
            return None
        visibility = self.image_visibility(
            info.get("RepoTags"), (info.get("Config") or {}).get("Labels")
        )
        return (visibility, info) if visibility else None

    async def image(self, ref_text: str) -> ResolvedImage | None:
        """Resolves what the student typed to a visible image: own tag, shared name, or id."""
        ref_text = ref_text.strip()
        ref = parse_image_ref(ref_text)
        if ref is not None:
            tagged = (
                ref
                if (ref.tag or ref.digest)
                else ref.__class__(ref.domain, ref.path, "latest", "")
            )
            if ref.on_docker_hub or (ref.domain and ref.domain == self.config.registry_name):
                own = self.ns.own_image_ref(tagged)
                found = await self._inspect_visible(own)
                if found and found[0] == "own":
                    return ResolvedImage(own, found[1]["Id"], True)
            elif ref.domain:
                # Any other registry's name is none of the student's: such a tag on the engine
                # is a push or pull of another student's under way (the course registry's real
                # address), and answering it told who was pushing what (attack review).
                return None
            shared_text = tagged.text()
            found = await self._inspect_visible(shared_text)
            if found:
                visibility, info = found
                named = shared_text in (info.get("RepoTags") or []) or (
                    ref.digest
                    and any(d.endswith(ref.digest) for d in info.get("RepoDigests") or [])
                )
                if named or visibility == "own":
                    return ResolvedImage(
                        shared_text if named else info["Id"], info["Id"], visibility == "own"
                    )
        hex_part = ref_text.removeprefix("sha256:")
        if HEX_ID.match(hex_part):
            matches = [
                (visibility, image)
                for visibility, image in await self.image_summaries(all_layers=True)
                if image["Id"].removeprefix("sha256:").startswith(hex_part)
            ]
            if len(matches) == 1:
                visibility, image = matches[0]
                return ResolvedImage(image["Id"], image["Id"], visibility == "own")
            if len(matches) > 1:
                raise bad_request(
                    _("Hay varias imágenes cuyo ID empieza por «%(ref)s»: escribe más caracteres.")
                    % {"ref": ref_text}
                )
        return None

    async def image_as_written(self, ref_text: str, resolved: ResolvedImage) -> str:
        """What to send as the image of a new container so the engine records what the student
        wrote (`alpine`, `miapp:1.0`, a short id), as their own Docker would: the written form
        (an own image's with the student's prefix) is used only if the engine resolves it to
        exactly the image checked; otherwise the checked reference."""
        ref_text = ref_text.strip()
        ref = parse_image_ref(ref_text)
        candidates = []
        if resolved.own and ref is not None and not ref.domain:
            candidates.append(self.ns.image_prefix + ref_text.removeprefix("library/"))
        if ref is not None or HEX_ID.match(ref_text.removeprefix("sha256:")):
            candidates.append(ref_text)
        for written in candidates:
            try:
                info = await self.engine.get_or_none(f"/images/{written}/json")
            except EngineError:
                continue  # a form the engine reads differently: keep the checked reference
            if info and info.get("Id") == resolved.id:
                return written
        return resolved.engine_ref

    async def own_image_count(self) -> int:
        """What `docker images` lists as theirs: one per own tag, one per own untagged image."""
        count = 0
        for visibility, image in await self.image_summaries():
            if visibility != "own":
                continue
            own_tags = [t for t in image.get("RepoTags") or [] if self.ns.owns_image_tag(t)]
            count += len(own_tags) or int(self.ns.owns_labels(image.get("Labels")))
        return count


def _plain_name(ref: str) -> bool:
    from .names import OBJECT_NAME

    return bool(OBJECT_NAME.match(ref))


def _no_such_container(ref: str) -> Exception:
    return not_found(_("No existe el contenedor: %(ref)s") % {"ref": ref})
