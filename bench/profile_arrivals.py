"""Where the server's time goes when N students arrive at once: the real app under cProfile.

Runs one round of bench/load.py (N students at once: page, terminal, 3 commands, a check)
against the real server started under cProfile, then stops it with SIGTERM (uvicorn's orderly
exit, so the profile is written) and prints the functions with the most time of their own and
the most time inside them. cProfile sees the event loop's thread: Django views, templates, the
consumers and everything awaited there; the Docker SDK calls run in Muelle's thread pool and show
as the waits on them. The engine's side (dockerd, containerd) is bench/load.py's CPU lines;
what the server asks of it is counted here too: engine calls per arrival, by kind (the SDK's and
the gateway's own client), over the same span as the profile.

    .venv/bin/python bench/profile_arrivals.py [--students 50] [--top 25] [--callers PATTERN]
        [--window] [--arrive-only]

Loopback only; its own SQLite file and SANDBOX_INSTANCE; removes every container it made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, configure_django
from load import one_round, report

from harness.live_server import LiveServer, instance_containers, remove_containers

# Runs tutorial.server's main() under cProfile and writes the stats when it returns.
# uvicorn re-raises SIGTERM once it has shut down, with the handler found at start: a no-op one
# lets main() return, so the stats get written. Profiling starts on SIGUSR1 (sent once the
# server listens: start-up and imports are not what arrivals cost). The timer is the event
# loop thread's own CPU time: a coroutine waiting on the engine costs nothing, and the Docker
# threads' work is not charged to whatever the loop runs meanwhile.
WRAPPER = """
import cProfile, collections, json, re, signal, sys, time, urllib.parse
import docker.api.client
from tutorial import server
from sandbox.gateway import upstream
profile = cProfile.Profile(time.thread_time)
# Engine calls by kind (the SDK's and the gateway's own client), counted from SIGUSR1 on too.
calls, counting = collections.Counter(), []
ID = re.compile(r"/[0-9a-f]{64}|/muelle-[^/]+|/m[0-9a-f]{14}[^/]*")
def count(method, path):
    if counting:
        calls[method + " " + ID.sub("/{id}", re.sub(r"^/v[0-9.]+", "", path))] += 1
sdk_send, gateway_request = docker.api.client.APIClient.send, upstream.Upstream.request
def send(self, request, **kwargs):
    count(request.method, urllib.parse.urlsplit(request.url).path)
    return sdk_send(self, request, **kwargs)
async def request(self, method, path, **kwargs):
    count(method, path)
    return await gateway_request(self, method, path, **kwargs)
docker.api.client.APIClient.send, upstream.Upstream.request = send, request
def start(*_):
    counting.append(True)
    profile.enable()
def stop(*_):
    counting.clear()
    profile.disable()
signal.signal(signal.SIGTERM, lambda *_: None)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
try:
    server.main(sys.argv[2:])
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
    with open(sys.argv[1] + ".calls", "w") as out:
        json.dump(calls, out)
"""


class ProfiledServer(LiveServer):
    def __init__(self, *args: object, out: Path, **kwargs: str) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.out = out

    def start(self, *extra: str) -> None:
        real = subprocess.Popen

        def popen(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
            if "tutorial.server" in args:  # the server, not collectstatic before it
                at = args.index("tutorial.server")
                args = [args[0], "-c", WRAPPER, str(self.out), *args[at + 1 :]]
            return real(args, **kwargs)  # type: ignore[call-overload]

        subprocess.Popen = popen  # type: ignore[misc, assignment]
        try:
            super().start(*extra)
        finally:
            subprocess.Popen = real  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--callers",
        default="",
        help="also print who called the functions matching this (a pstats pattern, e.g. "
        "'sync.py:.*__call__' for the hops into Django's database thread)",
    )
    parser.add_argument(
        "--window",
        action="store_true",
        help="profile and count only until the last terminal is ready (the raw reference's "
        "window), leaving out the commands, checks and releases after it",
    )
    parser.add_argument(
        "--arrive-only",
        action="store_true",
        help="students only arrive (bench/load.py --arrive-only)",
    )
    args = parser.parse_args()
    assert args.students <= 200, "bounded: at most 200 students"
    with tempfile.TemporaryDirectory(prefix="muelle-profile-") as tmp:
        instance = f"bench-profile-{int(time.time())}"
        configure_django(Path(tmp) / "db.sqlite3", instance)
        out = Path(tmp) / "server.prof"
        server = ProfiledServer(
            Path(tmp) / "db.sqlite3",
            instance,
            out=out,
            SANDBOX_MAX_LIVE=str(args.students + 20),
            SANDBOX_WARM_POOL="0",
            SANDBOX_RECONNECT_GRACE="0",
            CLIENT_MAX_SANDBOXES=str(args.students + 20),
            CLIENT_SESSION_BURST="1000",
        )
        server.migrate()
        server.start()
        assert server.process is not None
        server.process.send_signal(signal.SIGUSR1)
        try:
            process = server.process
            stop = (lambda: process.send_signal(signal.SIGUSR2)) if args.window else None
            round_ = one_round(
                server, args.students, 170, on_last_ready=stop, arrive_only=args.arrive_only
            )
            report(asyncio.run(round_))
        finally:
            server.terminate(within=60)
            remove_containers(instance)
            print(f"cleanup: {len(instance_containers(instance))} container(s) left")
        if not out.exists():
            sys.exit("the server wrote no profile")
        stats = pstats.Stats(str(out))
        stats.strip_dirs()
        total = stats.total_tt  # type: ignore[attr-defined]
        print(
            f"\nserver event-loop thread: {total:.1f} s of CPU for {args.students} arrivals "
            f"({total / args.students * 1000:.0f} ms each)"
        )
        calls = json.loads(Path(f"{out}.calls").read_text())
        print(f"\nengine calls per arrival ({sum(calls.values()) / args.students:.1f} in all):")
        for kind, count in sorted(calls.items(), key=lambda item: -item[1]):
            print(f"   {count / args.students:5.2f}  {kind}")
        print(f"\n-- top {args.top} by own time (tottime) --")
        stats.sort_stats("tottime").print_stats(args.top)
        print(f"\n-- top {args.top} by time inside (cumtime) --")
        stats.sort_stats("cumulative").print_stats(args.top)
        if args.callers:
            print(f"\n-- who calls {args.callers} --")
            stats.sort_stats("cumulative").print_callers(args.callers)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
