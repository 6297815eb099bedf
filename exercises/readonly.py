"""Spotting check commands that would change the student's Docker state.

A check looks; it never creates what it checks for: `comando: docker run -v notas:/x …` creates
the volume `notas`, and the next check of that volume "already passes". check_lessons reports
such commands (verify_solutions also catches them at run time, whatever their spelling, by
comparing the student's Docker state before and after the checks). Commands that only read
(`ps`, `inspect`, `logs`, `images`, `exec`, `cp` out of a container) stay allowed.
"""

from __future__ import annotations

import re

# docker <verb> and docker <object> <verb> that create, change or remove something.
_CHANGING = {
    "attach",
    "build",
    "commit",
    "create",
    "import",
    "kill",
    "load",
    "login",
    "logout",
    "pause",
    "pull",
    "push",
    "rename",
    "restart",
    "rm",
    "rmi",
    "run",
    "start",
    "stop",
    "tag",
    "unpause",
    "update",
}
_OBJECT_CHANGING = _CHANGING | {"connect", "disconnect", "prune", "remove"}
_OBJECTS = {"container", "image", "volume", "network", "system", "builder", "buildx", "context"}
_COMPOSE_CHANGING = {
    "build",
    "create",
    "down",
    "kill",
    "pause",
    "pull",
    "push",
    "restart",
    "rm",
    "run",
    "scale",
    "start",
    "stop",
    "unpause",
    "up",
}
_READING = {
    "cp",
    "diff",
    "events",
    "exec",
    "export",
    "history",
    "images",
    "info",
    "inspect",
    "logs",
    "port",
    "ps",
    "save",
    "search",
    "stats",
    "top",
    "version",
    "wait",
}
_VERBS = _CHANGING | _OBJECTS | _READING | {"compose"}
# A command word: at the start or after a shell separator (; & | ( ` $( newline).
_DOCKER = re.compile(
    r"(?:^|[;&|(`\n]|\$\()\s*(?:sudo\s+|command\s+|exec\s+)?(docker(?:-compose)?)\b(.*)"
)
_WORD = re.compile(r"[a-z][a-z-]*")


def changing_docker_command(command: str) -> str | None:
    """The offending `docker …` words of `command` (e.g. "docker volume create"), or None."""
    for match in _DOCKER.finditer(command):
        program, rest = match.group(1), match.group(2)
        # Only this command's own words: the next one after a separator has its own match.
        words = re.split(r"[;&|)`\n]", rest, maxsplit=1)[0].split()
        plain = [w for w in words if _WORD.fullmatch(w)]
        # Skip global options and their values (`--log-level error rm x`): start at the verb.
        start = next((i for i, w in enumerate(plain) if w in _VERBS), len(plain))
        plain = plain[start:] if program == "docker" else plain
        if program == "docker-compose":
            verb = next((w for w in plain if w in _COMPOSE_CHANGING), None)
            if verb:
                return f"docker-compose {verb}"
            continue
        if not plain:
            continue
        first = plain[0]
        if first == "compose":
            verb = next((w for w in plain[1:] if w in _COMPOSE_CHANGING), None)
            if verb:
                return f"docker compose {verb}"
        elif first in _OBJECTS and len(plain) > 1 and plain[1] in _OBJECT_CHANGING:
            return f"docker {first} {plain[1]}"
        elif first in _CHANGING:
            return f"docker {first}"
    return None
