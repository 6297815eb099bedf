"""Per-student names: what a student types becomes a prefixed engine name, and back.

Docker names are global to the engine; students must not collide or see each other's. Every
container, volume and network name gets the student's prefix `m<key>_` and every image
repository `m<key>/`. The key is a hash: its first 4 hex digits identify the Muelle instance, so
an orphan sweep never touches names that belong to another instance sharing the engine. The
prefix starts with "m", so a prefixed name can never be mistaken for a (hex) object id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

# Re-exported: the gateway's modules read every label from here.
from sandbox.engine_names import LABEL_INSTANCE, LABEL_MANAGED, LABEL_STUDENT

from .errors import GatewayError, bad_request

LABEL_COURSE = "muelle.course"
RESERVED_LABEL_PREFIX = "muelle."
COURSE_REPOSITORY_PREFIX = "muelle/"

# \Z, not $ (which also matches before a final "\n"), and ASCII \w: as Go's regexp reads them.
OBJECT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}\Z")
HEX_ID = re.compile(r"^[0-9a-f]{1,64}\Z")
FULL_ID = re.compile(r"^[0-9a-f]{64}\Z")
PREFIXED = re.compile(r"m[0-9a-f]{14}[_/]")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"^[\w][\w.-]{0,127}\Z", re.ASCII)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")
# distribution/reference's domain: dot-separated host labels and an optional port. Anything else
# ("..", "?", spaces) is no reference, and must never become part of a path sent to the engine.
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = re.compile(rf"^{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*(?::[0-9]+)?\Z")
DOCKER_HUB_DOMAINS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def instance_key(instance: str) -> str:
    return hashlib.sha256(f"muelle-instance:{instance}".encode()).hexdigest()[:4]


def student_key(instance: str, owner: str) -> str:
    digest = hashlib.sha256(f"muelle-student:{instance}:{owner}".encode()).hexdigest()
    return instance_key(instance) + digest[:10]


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: optional registry domain, repository path, tag, digest."""

    domain: str
    path: str
    tag: str
    digest: str

    @property
    def on_docker_hub(self) -> bool:
        return self.domain == "" or self.domain in DOCKER_HUB_DOMAINS

    def hub_path(self) -> str:
        """The repository as Docker Hub names it without `library/` ("nginx", "user/app")."""
        return self.path.removeprefix("library/")

    def text(self, path: str | None = None) -> str:
        out = (f"{self.domain}/" if self.domain else "") + (path or self.path)
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_image_ref(ref: str) -> ImageRef | None:
    """Parses `[domain/]path[:tag][@digest]`; None when it is not a valid reference."""
    if not ref or len(ref) > 255 or ref != ref.strip():
        return None
    name, _, digest = ref.partition("@")
    if digest and not _DIGEST.match(digest):
        return None
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            return None
    domain = ""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN.match(first):
            return None
        domain, name = first, rest
    if not name or not all(_PATH_COMPONENT.match(c) for c in name.split("/")):
        return None
    if domain in DOCKER_HUB_DOMAINS and "/" not in name:
        name = f"library/{name}"
    return ImageRef(domain, name, tag, digest)


class Namespace:
    """One student's names and labels on the engine."""

    def __init__(self, owner: str, instance: str) -> None:
        self.owner = owner
        self.instance = instance
        self.key = student_key(instance, owner)
        self.object_prefix = f"m{self.key}_"
        self.image_prefix = f"m{self.key}/"
        self._strip = re.compile(re.escape(f"m{self.key}") + "[_/]")
        self._strip_bytes = re.compile(re.escape(f"m{self.key}").encode() + b"[_/]")

    # --- labels -------------------------------------------------------------------------------
    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_MANAGED: "1", LABEL_INSTANCE: self.instance, LABEL_STUDENT: self.owner}

    @property
    def label_filters(self) -> list[str]:
        return [f"{LABEL_INSTANCE}={self.instance}", f"{LABEL_STUDENT}={self.owner}"]

    def owns_labels(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return (
            labels.get(LABEL_STUDENT) == self.owner
            and labels.get(LABEL_INSTANCE) == self.instance
            and labels.get(LABEL_MANAGED) == "1"
        )

    # --- containers, volumes, networks --------------------------------------------------------
    def object_name(self, name: str, what: str) -> str:
        """The engine name for a student's container/volume/network name (validated)."""
        name = name.removeprefix("/") if what == "container" else name
        if not OBJECT_NAME.match(name):
            raise bad_request(
                _(
                    "Nombre de %(what)s no válido: «%(name)s». Usa letras, números, «_», «.» "
                    "o «-», empezando por una letra o un número."
                )
                % {"what": what, "name": name}
            )
        return self.object_prefix + name

    def owns_object_name(self, engine_name: str) -> bool:
        return engine_name.removeprefix("/").startswith(self.object_prefix)

    def student_object_name(self, engine_name: str) -> str:
        bare = engine_name.removeprefix("/")
        return bare[len(self.object_prefix) :] if bare.startswith(self.object_prefix) else bare

    # --- images -------------------------------------------------------------------------------
    def own_image_repo(self, ref: ImageRef) -> str:
        """The engine repository for an image name the student gives to something of theirs.
        A name in the course registry keeps its domain (`m<key>/registro.muelle/app`): callers
        allow no other domain, and a dotted name without a port is a valid path component."""
        domain = "" if ref.on_docker_hub else f"{ref.domain}/"
        return self.image_prefix + domain + ref.hub_path()

    def own_image_ref(self, ref: ImageRef) -> str:
        """The same with its tag (latest when none) or digest."""
        out = self.own_image_repo(ref)
        if ref.digest:
            return f"{out}@{ref.digest}"
        return f"{out}:{ref.tag or 'latest'}"

    def owns_image_tag(self, tag: str) -> bool:
        return tag.startswith(self.image_prefix)

    # --- responses ----------------------------------------------------------------------------
    def strip(self, text: str) -> str:
        """Removes this student's prefixes from any text the engine sends back."""
        return self._strip.sub("", text)

    def strip_bytes(self, data: bytes) -> bytes:
        return self._strip_bytes.sub(b"", data)


# The engine's rule for network names (moby 20.10, checked on it): anything but a blank name
# (libnetwork: "invalid name") or a predefined network's (403 "operation is not permitted on
# predefined ... network"); `test 01`, `a:b` or `ñu` are fine. Muelle adds a length cap and no
# control characters (a name is printed in the student's terminal).
PREDEFINED_NETWORKS = ("bridge", "host", "none", "default")
_NETWORK_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,128}\Z")


def is_network_name(name: str) -> bool:
    return bool(_NETWORK_NAME.match(name)) and bool(name.strip())


def network_name_error(name: str) -> GatewayError | None:
    """Why the engine (or Muelle) would refuse a new network called `name`, or None."""
    if name in PREDEFINED_NETWORKS:
        return GatewayError(
            403,
            _("La red «%(name)s» es una red predefinida de Docker: no se puede crear otra.")
            % {"name": name},
        )
    if not is_network_name(name):
        return bad_request(
            _(
                "Nombre de red no válido: «%(name)s». Puede llevar casi cualquier carácter "
                "(también espacios), pero no puede estar vacío, tener solo espacios, pasar de "
                "128 caracteres ni llevar caracteres de control."
            )
            % {"name": name}
        )
    return None


def is_reserved_label(key: str) -> bool:
    return key.lower().startswith(RESERVED_LABEL_PREFIX)


def is_course_tag(tag: str) -> bool:
    return tag.startswith(COURSE_REPOSITORY_PREFIX)
