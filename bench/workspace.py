"""The workspace editor: save → visible in the terminal, beside the raw engine.

In one process against the real engine (its own throwaway database and SANDBOX_INSTANCE):

* save: the editor's real save view (sandbox.workspace_views.save through Django's ASGI test
  client: session, JSON, CSRF middleware, the fixed script run by `docker exec` as the student,
  the stale-version check and the atomic rename) until its answer;
* save → visible in the terminal: the save, then `cat` typed in an open terminal (engine.open_tty,
  the shell the websocket relays) until the new text appears on its screen;
* save without HTTP: sandbox.workspace.write_file alone (the exec and its script);
* raw reference: one `docker exec <container> cat <file>` straight on the engine (the SDK's
  exec_create + exec_start), the floor any exec-based save stands on.

Prints median, p95 and max of each. Target: save → visible p50 ≤ 150 ms.

    .venv/bin/python bench/workspace.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from pathlib import Path

from common import alarm, configure_django, report

DEADLINE = 5 * 60


async def main(rounds: int) -> None:
    from django.test import AsyncClient
    from django.urls import reverse

    from sandbox import engine, workspace
    from sandbox.terminals import owner_key

    client = AsyncClient()
    await client.post(reverse("sandbox:session"))
    owner = owner_key(client.cookies["sessionid"].value)
    sandbox = await engine.acquire(owner)
    tty = await engine.open_tty(sandbox, rows=24, cols=200)
    try:
        screen = bytearray()

        async def pump() -> None:
            while chunk := await tty.read():
                screen.extend(chunk)

        reader = asyncio.create_task(pump())
        await asyncio.sleep(1.0)  # the login shell's first prompt
        saves: list[float] = []
        visible: list[float] = []
        raw: list[float] = []
        version = ""
        url = reverse("sandbox:workspace-save")
        for round_ in range(rounds + 2):  # two warm-up rounds, not counted
            token = secrets.token_hex(6)
            text = f"FROM muelle/hola\nLABEL ronda={token.upper()}\n"
            started = time.perf_counter()
            answer = await client.post(
                url,
                json.dumps({"ruta": "bench/Dockerfile", "texto": text, "version": version}),
                content_type="application/json",
            )
            saved = time.perf_counter()
            assert answer.status_code == 200, answer.content
            version = answer.json()["version"]
            mark = len(screen)
            # The command never contains the upper-case token, only the file does.
            await tty.write(b"cat ~/bench/Dockerfile\n")
            wanted = f"ronda={token.upper()}".encode()
            while wanted not in screen[mark:]:
                await asyncio.sleep(0.001)
            seen = time.perf_counter()
            if round_ >= 2:
                saves.append(saved - started)
                visible.append(seen - started)

        def raw_cat(api: object) -> bytes:
            exec_id = api.exec_create(  # type: ignore[attr-defined]
                sandbox.container_id, ["cat", "/home/alumno/bench/Dockerfile"], user="1000:1000"
            )["Id"]
            return api.exec_start(exec_id)  # type: ignore[attr-defined, no-any-return]

        direct: list[float] = []
        for round_ in range(rounds + 2):
            started = time.perf_counter()
            version = await workspace.write_file(sandbox, "bench/Dockerfile", text, version)
            if round_ >= 2:
                direct.append(time.perf_counter() - started)

        for round_ in range(rounds + 2):
            started = time.perf_counter()
            output = await asyncio.to_thread(engine.call_sync, raw_cat)
            if round_ >= 2:
                raw.append(time.perf_counter() - started)
            assert b"ronda=" in output
        reader.cancel()
    finally:
        await tty.close()
        await engine.stop_background_tasks()
        await engine.remove_now(sandbox.container_id)

    report("save (editor API, answered)", saves, "part of the line below")
    report("save → visible in the terminal (cat)", visible, "target p50 ≤ 150 ms")
    report("save without HTTP (workspace.write_file)", direct, "the exec alone")
    report("raw: docker exec cat on the engine", raw, "reference")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, alarm(DEADLINE):
        configure_django(
            Path(folder) / "bench.sqlite3",
            f"bench-workspace-{secrets.token_hex(3)}",
            ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
            SANDBOX_WARM_POOL="0",
            DOCKER_GATEWAY_ENABLED="0",
        )
        asyncio.run(main(args.rounds))
