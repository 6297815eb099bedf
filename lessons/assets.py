"""Files a folder lesson ships next to its index.md (images), and which of them may be served.

Only files inside the lesson's own folder, reached without hidden path parts, with one of a few
image types: a lesson can never make the site serve its markdown, a dotfile, or anything outside
its folder (`../`, symlinks pointing elsewhere).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

# Extension -> content type. SVG is served too: it can only script when opened on its own, and
# the view sends it with a sandboxing Content-Security-Policy.
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
}
MAX_PATH_LENGTH = 255


def locate(folder: Path | None, relative: str) -> tuple[Path, str] | None:
    """The file and content type for `relative` inside `folder`, or None if it may not be served."""
    if folder is None or not relative or len(relative) > MAX_PATH_LENGTH:
        return None
    if "\\" in relative or "\x00" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if not parts or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    if PurePosixPath(relative).is_absolute():
        return None
    content_type = CONTENT_TYPES.get(PurePosixPath(relative).suffix.lower())
    if content_type is None:
        return None
    root = folder.resolve()
    candidate = (root / Path(*parts)).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate, content_type
