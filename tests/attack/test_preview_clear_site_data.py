"""A preview answer with `Clear-Site-Data: "cookies"`: browsers clear the cookies of the whole
registrable domain, so one student's page (a share link) would wipe the owner's cookies of every
other preview (and, with previews under Muelle's own domain, Muelle's session). In real Chromium,
through the real server."""

from __future__ import annotations

import asyncio

import pytest

from harness.preview_client import Student, serve, wait_for_page

pytestmark = [pytest.mark.docker]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

WIPER = (
    "printf '%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' "
    "'echo \"Clear-Site-Data: \\\"cookies\\\"\"' 'echo' 'echo borrado' > ~/borra.sh"
)
SERVE = (
    "mkdir -p /tmp/w/cgi-bin && echo pagina-de-$NAME > /tmp/w/index.html && "
    'printf "%s\\n" "$CGI" > /tmp/w/cgi-bin/borra && chmod +x /tmp/w/cgi-bin/borra && '
    "exec httpd -f -p 80 -h /tmp/w"
)


def _in_chromium(ana: Student, beto: Student, port: int) -> dict[str, str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            # Each entry link is asked for just before it is followed, as a click on «Abrir»
            # does: it works for 60 s, and a loaded CI machine took longer to start Chromium.
            ana_host, ana_entry = ana.preview_entry(port)
            page.goto(f"http://{ana_host}{ana_entry}")
            before = page.content()
            beto_host, beto_entry = beto.preview_entry(port)
            page.goto(f"http://{beto_host}{beto_entry}")
            wiped = page.goto(f"http://{beto_host}/cgi-bin/borra")
            wiper = wiped.all_headers().get("clear-site-data", "") if wiped else ""
            after = page.goto(f"http://{ana_host}/")
            return {
                "before": before,
                "wiper": wiper,
                "status": str(after.status if after else 0),
                "after": page.content(),
            }
        finally:
            browser.close()


async def test_another_preview_cannot_clear_the_owners_cookies(server):
    ana = await asyncio.to_thread(Student, server)
    beto = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8096, "ana-borrada"))
    await beto.shell(
        f"{WIPER} && docker run -d -m 32m --name borra -p 8096:80 -e NAME=beto-borra "
        f"-e CGI=\"$(cat ~/borra.sh)\" muelle/busybox sh -c '{SERVE}' >/dev/null"
    )
    host, cookie = await asyncio.to_thread(ana.enter, 8096)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-ana-borrada")
    beto_host, beto_cookie = await asyncio.to_thread(beto.enter, 8096)
    await asyncio.to_thread(wait_for_page, server, beto_host, beto_cookie, "pagina-de-beto-borra")
    seen = await asyncio.to_thread(_in_chromium, ana, beto, 8096)
    assert "pagina-de-ana-borrada" in seen["before"]
    assert seen["wiper"] == ""  # the header never reaches the browser
    assert seen["status"] == "200" and "pagina-de-ana-borrada" in seen["after"]
