"""The dependency direction of docs/architecture.md, checked on every import in the code.

Each rule fails with the importing module and line, so whoever breaks it sees where.
"""

from __future__ import annotations

from .imports import Import, circles, graph, imports

# Layers, lowest first: a module may import its own layer and those below, never above.
#   tutorial.env / tutorial.client_address  (helpers every app may use)
#   lessons    — reads and renders lessons; knows nothing of exercises or containers
#   sandbox    — the only code that talks to Docker; knows nothing of lessons or exercises
#   exercises  — exercises of a lesson, checked in a student's sandbox (uses both above)
#   tutorial   — the project: settings, URLs, ASGI, the server (wires everything together)
FORBIDDEN = {
    "lessons": ("exercises", "sandbox"),
    "sandbox": ("lessons", "exercises"),
}
PROJECT_WIRING = ("tutorial.settings", "tutorial.urls", "tutorial.asgi", "tutorial.server")
# The one thin package that wraps the Docker SDK (STYLE.md: "Docker is touched in one place").
DOCKER_WRAPPER = "sandbox.docker_api"

# Import circles still waiting to be untangled. The list may only shrink: a new circle fails,
# and so does a listed one that no longer exists, so the list is kept honest. (Empty since
# issue 10 split sandbox/engine.py.)
KNOWN_CIRCLES: set[frozenset[str]] = set()


def _where(item: Import) -> str:
    return f"{item.importer} (línea {item.line}) importa {item.target}"


def _app(module: str) -> str:
    return module.split(".", 1)[0]


def test_apps_only_import_downwards() -> None:
    wrong = [
        _where(item)
        for item in imports()
        if any(
            item.target == banned or item.target.startswith(banned + ".")
            for banned in FORBIDDEN.get(_app(item.importer), ())
        )
    ]
    assert wrong == []


def test_no_app_imports_the_projects_wiring() -> None:
    wrong = [
        _where(item)
        for item in imports()
        if _app(item.importer) != "tutorial"
        and any(item.target == w or item.target.startswith(w + ".") for w in PROJECT_WIRING)
    ]
    assert wrong == []


def test_only_the_docker_wrapper_imports_the_docker_sdk() -> None:
    wrong = [
        _where(item)
        for item in imports()
        if (item.target == "docker" or item.target.startswith("docker."))
        and item.importer != DOCKER_WRAPPER
        and not item.importer.startswith(DOCKER_WRAPPER + ".")
    ]
    assert wrong == []


def test_no_new_import_circles() -> None:
    found = set(circles(graph()))
    new = [sorted(c) for c in found - KNOWN_CIRCLES]
    assert new == [], "import circles (function-level imports count too)"


def test_the_known_circles_list_is_up_to_date() -> None:
    found = set(circles(graph()))
    gone = [sorted(c) for c in KNOWN_CIRCLES - found]
    assert gone == [], "these circles were untangled: remove them from KNOWN_CIRCLES"


def test_the_rule_checker_sees_a_circle_and_a_forbidden_import() -> None:
    # The checker itself must be able to fail: a made-up graph with a circle is found.
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert circles({"a": {"b"}, "b": set()}) == []
