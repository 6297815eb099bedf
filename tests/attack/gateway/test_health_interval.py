"""Health checks at most once a second (sandbox/gateway/health_interval.py), on every path an
interval reaches the engine: `docker run --health-interval`, a Dockerfile's HEALTHCHECK,
`docker commit`'s configuration and `--change`. An attack review ran them every millisecond:
each a `docker exec` of the engine's own, about 0.3 of a core per container outside the
student's limits. The Dockerfile's interval is read as Go reads it: compared here with what the
Docker CLI (Go's time.ParseDuration) makes of random durations, created on the real engine."""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.gateway import health_interval
from tests.gateway.conftest import IMAGE

pytestmark = pytest.mark.docker

SAID = "van como mucho una por segundo"


def test_run_takes_a_second_or_more_and_refuses_less(student: Any) -> None:
    for interval in ("1ms", "500ms", "999ms"):
        refusal = student.refused("run", "-d", "--health-cmd", "true", "--health-interval",
                                  interval, IMAGE, "sleep", "60")  # fmt: skip
        assert SAID in refusal, interval
    assert student.ok("ps", "-aq") == ""
    student.ok("run", "-d", "--name", "sano", "--health-cmd", "true", "--health-interval", "1s",
               IMAGE, "sleep", "60")  # fmt: skip
    found = student.ok("inspect", "-f", "{{json .Config.Healthcheck}}", "sano")
    assert json.loads(found)["Interval"] == 1_000_000_000


def test_a_dockerfile_healthcheck_under_a_second_is_refused(student: Any, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    for interval in ("1ms", "0.5s", "900ms"):
        dockerfile.write_text(f"FROM {IMAGE}\nHEALTHCHECK --interval={interval} CMD true\n")
        assert SAID in student.refused("build", "-q", "-t", "salud", str(tmp_path)), interval
    for interval in ("1s", "1m30s"):
        dockerfile.write_text(f"FROM {IMAGE}\nHEALTHCHECK --interval={interval} CMD true\n")
        student.ok("build", "-q", "-t", "salud", str(tmp_path), timeout=120)
        found = json.loads(student.ok("image", "inspect", "-f", "{{json .Config.Healthcheck}}",
                                      "salud"))  # fmt: skip
        assert found["Interval"] == health_interval.duration_ns(interval), interval


def test_commit_cannot_set_a_shorter_interval(student: Any) -> None:
    student.ok("run", "-d", "--name", "base", IMAGE, "sleep", "60")
    body = json.dumps({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000}}).encode()
    status, answer = student.raw("POST", "/v1.41/commit?container=base&repo=rapida", body)
    assert status == 403 and SAID in str(answer), (status, answer)
    refusal = student.refused("commit", "--change", "HEALTHCHECK --interval=1ms CMD true", "base")
    assert "no está permitido" in refusal
    assert "rapida" not in student.ok("images", "--format", "{{.Repository}}")


def random_duration(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        number = str(rng.randint(0, 2000))
        if rng.random() < 0.3:
            number += "." + str(rng.randint(0, 999))
        parts.append(number + rng.choice(["ns", "us", "µs", "ms", "s", "m", "h"]))
    return "".join(parts)


def test_the_duration_is_read_as_go_reads_it() -> None:
    # What the Docker CLI (Go) sends for each: a container created on the engine straight.
    rng = random.Random(1206)  # noqa: S311 - a fuzz repeatable from its seed
    # Random ones, and fractions with leading zeros (where the scale of the fraction counts).
    cases = [random_duration(rng) for _ in range(30)]
    cases += ["1.5s", "1h", "0", "90m", "3.s", "1.05s", "0.001s", "2.0009m", "1.000000001s"]
    name = f"muelle-health-{uuid.uuid4().hex[:8]}"
    try:
        for index, text in enumerate(cases):
            created = subprocess.run(
                ["docker", "create", "--name", f"{name}-{index}", "--health-cmd", "true",
                 "--health-interval", text, IMAGE, "true"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            ours = health_interval.duration_ns(text)
            if created.returncode != 0:
                # Go could not read it, or the engine's own floor (1 ms) refused it.
                assert ours is None or (ours < 1_000_000 and "less than 1ms" in created.stderr), (
                    text,
                    ours,
                    created.stderr,
                )
                continue
            engine = subprocess.run(
                ["docker", "inspect", "-f", "{{json .Config.Healthcheck}}", f"{name}-{index}"],
                capture_output=True, text=True, check=True, timeout=60,
            ).stdout  # fmt: skip
            interval = (json.loads(engine) or {}).get("Interval", 0)
            assert ours == interval, (text, interval)
    finally:
        subprocess.run(
            ["docker", "rm", "-f", *(f"{name}-{i}" for i in range(len(cases)))],
            capture_output=True, timeout=120,
        )  # fmt: skip
