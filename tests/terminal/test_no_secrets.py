from __future__ import annotations

import pytest

from sandbox import engine
from sandbox.terminals import get_registry

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_the_shell_sees_no_secret_of_the_web_process(open_tab, session_key, settings):
    tab = await open_tab(session_key)

    output = await tab.run("env", "fin-env")

    assert b"SECRET" not in output
    assert b"DJANGO" not in output
    assert settings.SECRET_KEY.encode() not in output
    assert session_key.encode() not in output


async def test_the_container_is_labelled_with_a_hash_never_the_session_key(open_tab, session_key):
    await open_tab(session_key)
    (lease,) = get_registry().leases.values()

    info = engine.call_sync(lambda api: api.inspect_container(lease.sandbox.container_id))

    assert lease.owner != session_key
    assert session_key not in repr(info)
