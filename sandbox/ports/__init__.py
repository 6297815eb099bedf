"""Published ports (`docker run -p`) carried without opening anything on the server's network.

Student networks are internal and the server has no address on them, so Docker's own publishing
cannot work (and must not: it would bind on the server's interfaces). Instead the web process,
which already holds the engine's socket, makes sockets *inside* the network namespaces involved:

- a listening socket on 127.0.0.1:<host port> inside the student's sandbox, so `curl
  localhost:8080` in the terminal works as on a real machine;
- a socket inside the published container's namespace, connected to <its address>:<port>, for
  each connection (from the sandbox listener or from the preview origin).

Nothing runs in the student's containers and nothing listens on the server's interfaces; the
sockets go with the web process. See docs/ports.md.
"""

# sandbox.ports.table and sandbox.gateway import each other (the table talks to the engine through
# the gateway's client; the gateway opens and closes the students' tables). Loading students first
# settles that cycle in the one order that works, whichever module of the two packages comes first.
from . import students  # noqa: E402, F401
