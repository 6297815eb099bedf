"""What the tests of the Docker checks do in a real sandbox besides `outcome` and `sh`
(test_docker_state_checks.py): a check that must fail, and the web container on a network that
several checks look at."""

from __future__ import annotations

from sandbox import engine
from tests.exercises.test_docker_state_checks import outcome, sh


async def failure(sandbox: engine.Sandbox, check_yaml: str) -> str:
    """The detail of the check `check_yaml`, which must fail."""
    passed, detail = await outcome(sandbox, check_yaml)
    assert not passed, detail
    return detail


async def start_api_on_backend(sandbox: engine.Sandbox, port: int, options: str = "") -> None:
    """The student's network `backend` and on it `api`, a busybox httpd on `port` (with the
    `docker run` options `options` too)."""
    await sh(sandbox, "docker network create backend >/dev/null")
    await sh(
        sandbox,
        f"docker run -d -m 32m --name api --network backend {options} muelle/busybox "
        f"httpd -f -p {port} -h /tmp >/dev/null",
    )
