"""Label keys and folder names that several parts of sandbox/ must spell alike, written once.

A leaf (it imports nothing of Muelle's): the sandbox's project volume (sandbox/project_volume.py)
and the student's Docker gateway (sandbox/gateway/) both read it, and the gateway imports the
project volume, never the reverse, so neither can be the other's source. Every clean-up finds
what Muelle made by these labels: a second spelling would leave orphans behind.
"""

from __future__ import annotations

import re

LABEL_MANAGED = "muelle.managed"
LABEL_INSTANCE = "muelle.instance"
LABEL_ROLE = "muelle.role"
# The role of a student's sandbox, the container their terminal runs in (sandbox/hardening.py).
SANDBOX_ROLE = "sandbox"
# Whose it is: every object a student makes through their gateway carries it (and images built
# FROM a course image inherit that image's labels, so only this one tells a student's apart).
LABEL_STUDENT = "muelle.student"
# The gateway folder a sandbox, or its project volume, belongs to.
LABEL_GATEWAY = "muelle.gateway"
# On a Swarm node's loopback carrier and its socket volume (sandbox/ports/node_loopback.py): the
# sandbox it serves. The reaper's sweep (gateway/cleanup.py) finds unused socket volumes by it.
LABEL_PORT_LOOPBACK = "muelle.port-loopback"

# A gateway folder's name: a student's key (sandbox/gateway/names.student_key: 14 hex digits) or
# a token reserved for a warm-pool container. \Z, not $ (which also matches before a final "\n").
GATEWAY_FOLDER = re.compile(r"^(?:[0-9a-f]{14}|p[0-9a-f]{16})\Z")
