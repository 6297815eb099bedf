"""Accessibility in a real browser (issue 2, point 8): the skip link works from the keyboard, a
phone-sized screen needs no sideways scrolling, and text meets WCAG AA contrast."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PAGES = ["/", "/lecciones/que-es-docker/"]
PHONE = {"width": 375, "height": 740}

# Every visible element with text of its own, its colour composited over the first opaque
# background found walking up its ancestors, and the WCAG 2.x contrast ratio of the two.
CONTRAST_JS = """
() => {
  const parse = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg[3] > 0) {
        layers.push(bg);
        if (bg[3] >= 1) break;
      }
    }
    let result = [255, 255, 255, 1];  // the canvas
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (rgb) => {
    const c = rgb.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const ownText = (el) => [...el.childNodes].some(
    (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const describe = (el) => el.tagName.toLowerCase()
    + (el.className ? "." + String(el.className).trim().split(/\\s+/).join(".") : "");
  const results = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!ownText(el) || el.closest(".xterm, [hidden], script, style, noscript, template")) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility !== "visible" || box.width < 2 || box.height < 2) continue;
    if (el.closest(".sr-only, .terminal-sr-only, .skip-link")) continue;  // not painted
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    results.push({
      element: describe(el),
      text: el.textContent.trim().slice(0, 40),
      ratio: Math.round(((l1 + 0.05) / (l2 + 0.05)) * 100) / 100,
      needed: large ? 3 : 4.5,
      color: style.color,
      background: `rgb(${bg.slice(0, 3).map(Math.round).join(", ")})`,
    });
  }
  return results;
}
"""

# Boxes that stick out to the right of the viewport (to name the culprit when the page scrolls).
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter((el) => !el.closest(".xterm-helpers, [hidden]"))
    .map((el) => [el, el.getBoundingClientRect()])
    .filter(([el, box]) => box.width > 0 && (box.right > width + 0.5 || box.left < -0.5))
    .map(([el, box]) => `${el.tagName.toLowerCase()}.${el.className} ${box.left}..${box.right}`)
    .slice(0, 10);
}
"""


@pytest.fixture
def site(live_asgi_server: str, page, settings):  # noqa: ANN001, ANN201
    # The panel is drawn as on any lesson page, but no container starts: it says the terminal is
    # off. The page fixture already keeps the browser on loopback.
    settings.SANDBOX_ENABLED = False
    return live_asgi_server


@pytest.mark.parametrize("path", PAGES)
def test_the_first_tab_reaches_a_visible_skip_link_that_moves_to_main(
    site: str,
    page,
    path: str,  # noqa: ANN001
) -> None:
    page.goto(site + path)
    page.keyboard.press("Tab")

    focused = page.evaluate(
        "() => { const el = document.activeElement, box = el.getBoundingClientRect();"
        " return {cls: el.className, href: el.getAttribute('href'), text: el.textContent.trim(),"
        " top: box.top, bottom: box.bottom, left: box.left, width: box.width,"
        " inside: box.bottom <= innerHeight && box.right <= innerWidth}; }"
    )
    assert focused["cls"] == "skip-link"
    assert focused["href"] == "#contenido"
    assert focused["text"] == "Saltar al contenido"
    # Shown once focused: on screen, not clipped away.
    assert focused["top"] >= 0 and focused["left"] >= 0 and focused["width"] > 20
    assert focused["inside"]

    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'contenido'"
    )
    main_top = page.evaluate("document.getElementById('contenido').getBoundingClientRect().top")
    max_scroll = page.evaluate("document.scrollingElement.scrollHeight - innerHeight")
    # Scrolled to main (or as far as the page goes).
    assert abs(main_top) <= 1 or page.evaluate("scrollY") >= max_scroll - 1
    assert page.evaluate("document.querySelector('main').id") == "contenido"

    # The next Tab continues inside the main landmark, past the site header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('contenido').contains(document.activeElement)")


@pytest.mark.parametrize("path", PAGES)
def test_a_phone_screen_needs_no_sideways_scrolling(site: str, page, path: str) -> None:  # noqa: ANN001
    page.set_viewport_size(PHONE)
    page.goto(site + path)
    page.wait_for_load_state("load")

    sizes = page.evaluate(
        "() => ({scroll: document.scrollingElement.scrollWidth,"
        " client: document.scrollingElement.clientWidth})"
    )
    assert sizes["scroll"] <= sizes["client"], page.evaluate(OVERFLOW_JS)
    assert sizes["client"] == PHONE["width"]

    fit = "(el) => { const b = el.getBoundingClientRect(); return b.left >= 0 && b.right <= 375; }"
    blocks = page.locator("main pre")
    if path != "/":
        assert page.locator("#terminal-panel").evaluate(fit)
        assert page.locator("#terminal-panel .terminal-bar").evaluate(fit)
        assert blocks.count() > 0
    for n in range(blocks.count()):
        assert blocks.nth(n).evaluate(fit), blocks.nth(n).inner_text()[:60]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE])
@pytest.mark.parametrize("path", PAGES)
def test_text_links_headings_and_buttons_meet_wcag_aa_contrast(
    site: str,
    page,
    path: str,
    viewport: dict,  # noqa: ANN001
) -> None:
    page.set_viewport_size(viewport)
    page.goto(site + path)
    page.wait_for_load_state("load")
    # The terminal's notice is on the page once the socket has answered (terminal off here).
    if path != "/":
        page.wait_for_function(
            "() => document.querySelector('[data-terminal-status]').dataset.state !== 'connecting'"
        )

    results = page.evaluate(CONTRAST_JS)
    tags = {r["element"].split(".")[0] for r in results}
    assert {"p", "a", "h1"} <= tags
    if path != "/":
        assert {"h2", "button"} <= tags
    failing = [r for r in results if r["ratio"] < r["needed"]]
    assert not failing, failing
