"""Blocking Swarm calls on a manager's engine (run them through client.call_on_sync): the
placeholder service that makes Swarm's scheduler choose a node and hold a `sandbox` slot there,
its task's node, the nodes and their engine addresses. sandbox/placement/ decides what to do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import docker
import docker.errors
import docker.types

# The generic resource every node offers (`dockerd --node-generic-resource sandbox=N`) and every
# placeholder reserves one of: a full node receives no more.
RESOURCE = "sandbox"
LABEL_PLACEHOLDER = "muelle.placeholder"  # on the service: the Muelle instance it belongs to


@dataclass(frozen=True)
class Node:
    id: str
    addr: str  # its address in the Swarm (Status.Addr)
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain


@dataclass(frozen=True)
class Task:
    node_id: str
    state: str  # new, pending, assigned, ..., running, failed, rejected, orphaned
    error: str


def image_id(api: docker.APIClient, name: str) -> str:
    # Services name their image by id: with a tag every task waits for a registry (NOTES).
    return str(api.inspect_image(name)["Id"])


def create_placeholder(
    api: docker.APIClient,
    *,
    name: str,
    image: str,
    user: str,
    instance: str,
    avoid: tuple[str, ...] = (),
) -> str:
    """A one-task service that only sleeps and reserves one `sandbox` slot where Swarm puts it.
    It never runs student code, yet it is as locked down as a service can be."""
    spec = docker.types.ContainerSpec(
        image,
        command=["sleep", "infinity"],
        user=user,
        read_only=True,
        cap_drop=["ALL"],
        init=True,
    )
    template = docker.types.TaskTemplate(
        spec,
        resources=docker.types.Resources(mem_limit=16 * 1024**2, generic_resources={RESOURCE: 1}),
        # A placeholder that stops is not restarted: the sandbox it stood for is over.
        restart_policy=docker.types.RestartPolicy(condition="none"),
        # Nodes whose engine did not answer although Swarm still counts them (it notices a
        # dead node only some seconds later).
        placement=docker.types.Placement(constraints=[f"node.id!={n}" for n in avoid]),
    )
    service = api.create_service(template, name=name, labels={LABEL_PLACEHOLDER: instance})
    return str(service["ID"])


def task_of(api: docker.APIClient, service_id: str) -> Task | None:
    """The service's newest task (None until Swarm made one)."""
    tasks = api.tasks(filters={"service": service_id})
    if not tasks:
        return None
    task = max(tasks, key=lambda t: t.get("CreatedAt", ""))
    status = task.get("Status") or {}
    return Task(
        node_id=str(task.get("NodeID") or ""),
        state=str(status.get("State") or ""),
        error=str(status.get("Err") or ""),
    )


def nodes(api: docker.APIClient) -> list[Node]:
    return [
        Node(
            id=str(item["ID"]),
            addr=str((item.get("Status") or {}).get("Addr") or ""),
            state=str((item.get("Status") or {}).get("State") or ""),
            availability=str((item.get("Spec") or {}).get("Availability") or ""),
        )
        for item in api.nodes()
    ]


def placeholders(api: docker.APIClient, instance: str) -> dict[str, str]:
    """{service name: creation time} of the instance's placeholder services."""
    found = api.services(filters={"label": f"{LABEL_PLACEHOLDER}={instance}"})
    return {str(s["Spec"]["Name"]): str(s.get("CreatedAt") or "") for s in found}


# A task in one of these states holds no slot any more, and a placeholder's is never restarted.
# "rejected" is not among them here: a task its node refused would be refused there again.
ENDED_STATES = frozenset({"complete", "failed", "shutdown", "orphaned", "remove"})


def _newest_tasks(api: docker.APIClient, service_ids: list[str]) -> dict[str, dict]:
    newest: dict[str, dict] = {}
    for task in api.tasks(filters={"service": service_ids}):
        service = str(task.get("ServiceID") or "")
        if task.get("CreatedAt", "") >= newest.get(service, {}).get("CreatedAt", ""):
            newest[service] = task
    return newest


def ended_placeholders(api: docker.APIClient, instance: str) -> dict[str, str]:
    """{service name: its newest task's id} of the instance's placeholders whose newest task
    ended."""
    services = api.services(filters={"label": f"{LABEL_PLACEHOLDER}={instance}"})
    names = {str(s["ID"]): str(s["Spec"]["Name"]) for s in services}
    if not names:
        return {}
    ended = {}
    for service, task in _newest_tasks(api, sorted(names)).items():
        state = str((task.get("Status") or {}).get("State") or "")
        if service in names and state in ENDED_STATES:
            ended[names[service]] = str(task.get("ID") or "")
    return ended


def hold_again_on(api: docker.APIClient, name: str, ended_task: str, node_id: str) -> None:
    """Starts a new task of the placeholder `name`, pinned to `node_id`, if its newest task is
    still `ended_task` (another web process's reaper may have done it meanwhile). An update of
    the same service, forced so that a task is replaced even when nothing else changed: its
    sandbox's label keeps naming it, and at no moment is there no service to hold the slot."""
    try:
        service = api.inspect_service(name)
    except docker.errors.NotFound:
        return  # its sandbox was removed meanwhile
    newest = _newest_tasks(api, [str(service["ID"])]).get(str(service["ID"]), {})
    if str(newest.get("ID") or "") != ended_task:
        return
    template = service["Spec"]["TaskTemplate"]
    placement = template.get("Placement") or {}
    constraints = [c for c in placement.get("Constraints") or [] if not c.startswith("node.id")]
    try:
        api.update_service(
            service["ID"],
            service["Version"]["Index"],
            task_template={
                "Placement": {**placement, "Constraints": [*constraints, f"node.id=={node_id}"]},
                "ForceUpdate": int(template.get("ForceUpdate") or 0) + 1,
            },
            fetch_current_spec=True,
        )
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if "out of sequence" not in str(exc):  # another web process's reaper did it first
            raise


def remove_service(api: docker.APIClient, name_or_id: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        api.remove_service(name_or_id)
