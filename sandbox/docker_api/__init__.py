"""The thin typed wrapper around the Docker SDK (docker 7, low-level APIClient): the only code in
Muelle that imports `docker` (tests/architecture checks it).

    client.py      the shared client, the Docker thread pool, errors turned into ours
    containers.py  create, inspect, rename, list, remove (blocking; run them through call())
    execs.py       exec sessions on their raw sockets (for terminals and one-off commands)
    images.py      image calls for the build_images command (blocking)
    node_tls.py    mutual TLS to the Swarm nodes' engines, as local unix sockets (no SDK)
    swarm.py       placeholder services, tasks and nodes on a Swarm manager

Nothing here knows about students, leases or the table: callers in sandbox/ do.
"""
