"""The course registry from inside a student's sandbox, as a student uses it: the sandbox's own
`docker` (no network, no name resolution for `registro.muelle`) through the gateway Muelle
configures from the settings (REGISTRY_URL and the password file)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from sandbox import course_registry, engine
from sandbox.gateway import lifecycle
from sandbox.gateway.registry_client import RegistryClient

pytestmark = pytest.mark.docker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_student_pushes_removes_and_runs_their_image_again(
    settings: Any, tmp_path: Path
) -> None:
    folder, port = tmp_path / "registry", _free_port()
    process = await asyncio.to_thread(course_registry.start, folder, port)
    settings.REGISTRY_URL = f"http://127.0.0.1:{port}"
    settings.REGISTRY_PASSWORD_FILE = str(folder / "password")
    try:
        sandbox = await engine.acquire("owner-registry-sandbox")
        result = await engine.run(
            sandbox,
            [
                "bash",
                "-c",
                "set -e; docker tag muelle/busybox registro.muelle/mia:1; "
                "docker push registro.muelle/mia:1; docker rmi registro.muelle/mia:1; "
                "docker run --rm registro.muelle/mia:1 echo desde-el-registro; "
                "docker search registro.muelle/",
            ],
            timeout=120,
        )
        output = result.output.decode()
        assert result.exit_code == 0, output
        assert "The push refers to repository [registro.muelle/mia]" in output
        assert "desde-el-registro" in output
        assert "registro.muelle/mia" in output.rpartition("desde-el-registro")[2]
        assert f"127.0.0.1:{port}" not in output
        client = RegistryClient(lifecycle.current_config())
        repositories = await client.all_repositories()
        assert [await client.tags(r) for r in repositories] == [["1"]]
        # The sandbox ends: what the student pushed goes with their objects.
        await engine.release(sandbox)
        assert [await client.tags(r) for r in repositories] == [[]]
    finally:
        await asyncio.to_thread(course_registry.stop, process)
