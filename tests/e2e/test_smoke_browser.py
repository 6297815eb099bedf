from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_it_serves_the_index_to_a_real_browser(live_asgi_server: str, page) -> None:  # noqa: ANN001
    response = page.goto(live_asgi_server + "/")
    assert response is not None and response.status == 200
    assert "Muelle" in page.content()
