"""A hostile student's preview against the preview cookies, through the real server: an app's
Set-Cookie whose Domain attribute is spelt the way browsers still read it, and a `muelle_vista`
cookie tossed onto the whole preview domain from another student's page."""

from __future__ import annotations

import asyncio

import pytest

from harness.preview_client import Student, body, request, serve, wait_for_page

pytestmark = [pytest.mark.docker]

# A CGI script that sets cookies whose Domain attribute hides behind spaces, a tab and case: a
# browser trims the attribute's name (RFC 6265 5.2), so each one is a Domain attribute for it.
WIDENING = (
    "printf '%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' "
    "'echo \"Set-Cookie: a=1; Domain =vista.localhost; Path=/\"' "
    "'printf \"Set-Cookie: b=2; Path=/;\\tDOMAIN\\t= .vista.localhost\\r\\n\"' "
    "'echo \"Set-Cookie: domain=3; Path=/\"' 'echo' 'echo hecho' > ~/amplia.sh"
)
SERVE = (
    "mkdir -p /tmp/w/cgi-bin && echo pagina-de-$NAME > /tmp/w/index.html && "
    'printf "%s\\n" "$CGI" > /tmp/w/cgi-bin/amplia && chmod +x /tmp/w/cgi-bin/amplia && '
    "exec httpd -f -p 80 -h /tmp/w"
)


def attribute_names(set_cookie: str) -> list[str]:
    """The attribute names of one Set-Cookie value as a browser parses them."""
    return [part.split("=", 1)[0].strip().lower() for part in set_cookie.split(";")[1:]]


async def test_a_domain_attribute_spelt_with_spaces_never_survives(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(
        f"{WIDENING} && docker run -d -m 32m --name amplia -p 8090:80 -e NAME=amplia "
        f"-e CGI=\"$(cat ~/amplia.sh)\" muelle/busybox sh -c '{SERVE}' >/dev/null"
    )
    host, cookie = await asyncio.to_thread(ana.enter, 8090)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-amplia")
    answer = await asyncio.to_thread(
        request, server, "GET", "/cgi-bin/amplia", {"Host": host, "Cookie": cookie}
    )
    assert answer.status == 200 and "hecho" in body(answer)
    cookies = answer.headers.get_all("Set-Cookie") or []
    # The three cookies arrive (the app still works), none with a Domain a browser would honour.
    assert sorted(c.split("=", 1)[0].strip() for c in cookies) == ["a", "b", "domain"]
    for value in cookies:
        assert "domain" not in attribute_names(value), value
    assert "domain=3" in " ".join(cookies)


async def test_a_preview_cookie_tossed_by_another_preview_does_not_lock_the_owner_out(server):
    ana = await asyncio.to_thread(Student, server)
    beto = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8091, "ana-tirada"))
    await beto.shell(serve("web", 8091, "beto-tirada"))
    host, cookie = await asyncio.to_thread(ana.enter, 8091)
    beto_host, beto_cookie = await asyncio.to_thread(beto.enter, 8091)
    assert beto_host != host
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-ana-tirada")
    # Beto's page ran `document.cookie = "muelle_vista=…; Domain=vista.localhost; Path=/"`:
    # Ana's browser now sends both cookies to her own preview, hers first (older, RFC 6265
    # 5.4) or second (a longer Path on the tossed one puts it first).
    for both in (f"{cookie}; {beto_cookie}", f"{beto_cookie}; {cookie}"):
        page = await asyncio.to_thread(request, server, "GET", "/", {"Host": host, "Cookie": both})
        assert page.status == 200 and "pagina-de-ana-tirada" in body(page)
        assert "beto-tirada" not in body(page)
    # The tossed cookie alone still opens nothing of Ana's.
    alone = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host, "Cookie": beto_cookie}
    )
    assert alone.status == 403 and "pagina-de-ana-tirada" not in body(alone)
