"""What a look at the nodes shows of a sandbox being removed (placement.Seen.shows_removed):
the shutdown's watch counts a sandbox removed only when the look could see where it was."""

from __future__ import annotations

from sandbox.docker_api.client import bind_engine, unbind_engine
from sandbox.docker_api.containers import ManagedContainer
from sandbox.placement import Seen

ANSWERED, SILENT = "tcp://10.9.0.2:2376", "tcp://10.9.0.3:2376"


def listed(container_id: str) -> ManagedContainer:
    return ManagedContainer(id=container_id, name=container_id, labels={}, running=True)


def test_a_look_shows_removed_only_what_it_could_have_seen() -> None:
    bind_engine("on-answered", ANSWERED)
    bind_engine("on-silent", SILENT)
    bind_engine("still-there", ANSWERED)
    try:
        partial = Seen([listed("still-there")], complete=False, answered={ANSWERED: "node-a"})
        assert not partial.shows_removed("still-there")  # listed
        assert partial.shows_removed("on-answered")  # its node answered, and it was not there
        assert not partial.shows_removed("on-silent")  # its node did not answer
        assert partial.shows_removed("unbound")  # removed already: bound to no node
        whole = Seen([listed("still-there")], complete=True, answered={ANSWERED: "node-a"})
        assert whole.shows_removed("on-silent")  # every node that may hold it was seen
        assert not whole.shows_removed("still-there")
    finally:
        unbind_engine("on-answered", "on-silent", "still-there")
