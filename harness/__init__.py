"""What tests/ and bench/ both drive Muelle with: a real server in a subprocess (live_server),
raw HTTP (raw_http), terminal tabs over channels' communicator (tabs), a preview student
(preview_client) and the 3-node Swarm test bed (swarm_bed). It lives in neither, so bench/ never
imports tests/ and tests/ never imports bench/ (tests/architecture/test_dependency_rules.py)."""
