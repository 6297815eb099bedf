"""Tables, admonitions, details, a table of contents, safe external links, rewritten links."""

from __future__ import annotations

from lessons import rendering


def test_tables_render_with_alignment_but_no_style() -> None:
    html = rendering.render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |\n").html
    assert "<table>" in html
    assert '<th align="left">a</th>' in html and '<td align="right">2</td>' in html
    assert "style=" not in html


def test_admonitions_in_spanish_and_english() -> None:
    html = rendering.render_markdown(
        '!!! nota "Recuerda"\n    Algo.\n\n!!! warning\n    Cuidado.\n'
    ).html
    assert '<div class="admonition nota">' in html
    assert '<p class="admonition-title">Recuerda</p>' in html
    assert '<div class="admonition warning">' in html


def test_collapsible_details() -> None:
    html = rendering.render_markdown(
        '??? consejo "Pista"\n    Oculto.\n\n???+ nota "Abierto"\n    Sí.\n'
    ).html
    assert '<details class="consejo">' in html and "<summary>Pista</summary>" in html
    assert '<details class="nota" open="open">' in html


def test_table_of_contents_from_headings_with_anchors() -> None:
    rendered = rendering.render_markdown(
        "## 🐣 ¿Por dónde empiezo?\n\ntexto\n\n### Un detalle\n\n## Otra sección\n"
    )
    assert [(e.id, e.title, e.level) for e in rendered.toc] == [
        ("sec-por-donde-empiezo", "🐣 ¿Por dónde empiezo?", 2),
        ("sec-otra-seccion", "Otra sección", 2),
    ]
    assert [(c.id, c.title) for c in rendered.toc[0].children] == [("sec-un-detalle", "Un detalle")]
    assert '<h2 id="sec-por-donde-empiezo">' in rendered.html
    assert '<h3 id="sec-un-detalle">' in rendered.html


def test_external_links_open_safely_in_a_new_tab() -> None:
    html = rendering.render_markdown(
        "[Docker](https://www.docker.com/) y [otra](//example.org/x) y [local](/lecciones/x/)"
    ).html
    assert (
        '<a href="https://www.docker.com/" target="_blank" rel="noopener noreferrer nofollow">'
        "Docker"
    ) in html
    assert '<a href="//example.org/x" target="_blank" rel="noopener noreferrer nofollow">' in html
    assert '<a href="/lecciones/x/">local</a>' in html
    assert "(se abre en una pestaña nueva)" in html


def test_a_lesson_cannot_set_its_own_target_or_rel() -> None:
    html = rendering.render_markdown('<a href="/x" target="_blank" rel="opener">x</a>').html
    assert html.strip() == '<p><a href="/x">x</a></p>'
