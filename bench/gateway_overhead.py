"""How much the Docker gateway costs against the engine directly, with the real Docker CLI.

    .venv/bin/python bench/gateway_overhead.py [--runs 21]

Runs each command alternately against the engine's socket and through a gateway (served on its
own event loop in a thread, as on the ASGI server's loop) and prints median / p95 wall times
and the ratio of medians. Target: run --rm at most 1.2x.
"""

from __future__ import annotations

import argparse
import os
import subprocess

from cli_sides import DOCKER, GatewayConfig, cli_sides, report, socket_folder, timed

IMAGE = "muelle/busybox"
LOG_LINES = 12_000  # fits the 1 MiB json-file cap every student container gets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    config = GatewayConfig(
        socket_dir=socket_folder(), instance=f"bench-{os.getpid()}", max_containers=50
    )
    # The direct side gets the same limits the gateway imposes, so only the gateway differs.
    limits = [
        "--memory",
        "128m",
        "--memory-swap",
        "128m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "64",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--network",
        "none",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=1",
    ]
    with cli_sides(config) as sides:
        direct_env, gateway_env = sides.direct, sides.gateway
        for env in (direct_env, gateway_env):  # warm both paths
            timed(env, "ps", "-a")
            timed(env, "run", "--rm", *limits, IMAGE, "true")
        print(f"{args.runs} runs each, alternating direct / gateway; docker CLI {DOCKER}")
        direct, gateway = [], []
        for _ in range(args.runs):
            direct.append(timed(direct_env, "ps", "-a"))
            gateway.append(timed(gateway_env, "ps", "-a"))
        report("docker ps -a", direct, gateway)

        direct, gateway = [], []
        for _ in range(args.runs):
            direct.append(timed(direct_env, "run", "--rm", *limits, IMAGE, "true"))
            gateway.append(timed(gateway_env, "run", "--rm", *limits, IMAGE, "true"))
        report("docker run --rm IMAGE true", direct, gateway)

        names = {}
        for label, env in (("direct", direct_env), ("gateway", gateway_env)):
            name = f"bench-logs-{label}-{os.getpid()}"
            subprocess.run(
                [DOCKER, "run", "--name", name, *limits, IMAGE, "seq", "1", str(LOG_LINES)],
                env=env,
                capture_output=True,
                check=True,
            )
            names[label] = name
        direct, gateway = [], []
        for _ in range(args.runs):
            direct.append(timed(direct_env, "logs", "-f", names["direct"]))
            gateway.append(timed(gateway_env, "logs", "-f", names["gateway"]))
        report(f"docker logs -f ({LOG_LINES} lines)", direct, gateway)
        subprocess.run([DOCKER, "rm", "-f", names["direct"]], env=direct_env, capture_output=True)


if __name__ == "__main__":
    main()
