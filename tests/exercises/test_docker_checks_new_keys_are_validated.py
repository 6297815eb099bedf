"""check_lessons validates the keys that replaced `docker …` commands in the course's checks
(contenedor: creado, reinicios, archivo, contiene, sin_archivo, proceso, sin_red, montaje :ro;
imagen: misma_que, distinta_de, healthcheck, capa, menos_de_mb, padre; volumen: libre; http:
coincide; the registro kind; respuesta with contenedor + dato), each wrong value with its line and
a Spanish explanation, and parses the right ones."""

from __future__ import annotations

import pytest

from tests.exercises.check_keys import (
    assert_reported_with_its_line,
    check_lessons_fails,
    parsed_checks,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("contenedor\nnombre: web\nestado: creado\ncodigo: 0", "no vale con «estado: creado»"),
        ("contenedor\nnombre: web\nestado: creado\nproceso: sleep", "no tiene procesos"),
        ("contenedor\nnombre: web\nestado: dormido", "«estado» debe ser uno de"),
        ("contenedor\nnombre: web\nreinicios: tres", "«reinicios» debe ser un número entero"),
        ("contenedor\nnombre: web\nreinicios: -1", "«reinicios» debe ser un número entero"),
        ("contenedor\nnombre: web\nreinicios: true", "«reinicios» debe ser un número entero"),
        ("contenedor\nnombre: web\narchivo: tmp/a.txt", "«archivo» debe ser una ruta absoluta"),
        ("contenedor\nnombre: web\nsin_archivo: ''", "«sin_archivo» debe ser una ruta absoluta"),
        ("contenedor\nnombre: web\ncontiene: hola", "«contiene» necesita «archivo»"),
        ("contenedor\nnombre: web\narchivo: /a\ncontiene: ''", "«contiene» debe ser un texto"),
        ("contenedor\nnombre: web\nproceso: 'httpd ('", "expresión regular no válida"),
        ("contenedor\nnombre: web\nsin_red: 'mi red'", "«sin_red» debe ser un nombre de Docker"),
        ("contenedor\nnombre: web\nmontaje: 'datos:ro'", "«montaje» debe ser"),
        ("contenedor\nnombre: web\nestado: no-existe\nreinicios: 1", "sobran: reinicios"),
        ("imagen\nnombre: app\nmisma_que: ''", "«misma_que» debe ser el nombre de otra imagen"),
        ("imagen\nnombre: app\ndistinta_de: 'a b'", "«distinta_de» debe ser el nombre"),
        ("imagen\nnombre: app\nhealthcheck: ''", "«healthcheck» debe ser un texto no vacío"),
        ("imagen\nnombre: app\ncapa: [a]", "«capa» debe ser un texto no vacío"),
        ("imagen\nnombre: app\nmenos_de_mb: 0", "«menos_de_mb» debe ser un número entero"),
        ("imagen\nnombre: app\nmenos_de_mb: '10 MB'", "«menos_de_mb» debe ser un número entero"),
        ("imagen\nnombre: app\npadre: 'no'", "«padre» debe ser true o false"),
        ("imagen\nnombre: app\nexiste: false\ncapa: x", "sobran: capa"),
        ("volumen\nnombre: notas\nlibre: 1", "«libre» debe ser true o false"),
        ("http\npuerto: 8080\ncoincide: '[0-9'", "expresión regular no válida"),
        ("registro\netiqueta: '1'", "necesita «nombre»"),
        ("registro\nnombre: saludo", "necesita «nombre»"),
        ("registro\nnombre: registro.muelle/saludo:1", "necesita «nombre»"),
        ("registro\nnombre: registro.muelle/saludo\netiqueta: 'v 1'", "«etiqueta» debe ser"),
        ("respuesta\ndato: codigo", "«dato» necesita «contenedor»"),
        ("respuesta\ncontenedor: web\ndato: color", "«dato» debe ser uno de: codigo"),
        ("respuesta\ncontenedor: web", "exactamente una de: esperado, patron o comando"),
        ("respuesta\ncontenedor: web\ndato: codigo\nesperado: '0'", "exactamente una de"),
        ("respuesta\ncontenedor: 'a b'\ndato: codigo", "«contenedor» debe ser un nombre"),
        ("respuesta\ncontenedor: web\ndato: ip", "«dato: ip» necesita «red»"),
        ("respuesta\ncontenedor: web\ndato: puerto", "«dato: puerto» necesita «puerto»"),
        ("respuesta\ncontenedor: web\ndato: puerto\npuerto: '8080:80'", "puerto del contenedor"),
        ("respuesta\ncontenedor: web\ndato: registro", "«dato: registro» necesita «extrae»"),
        ("respuesta\ncontenedor: web\ndato: registro\nextrae: '('", "expresión regular no válida"),
        (
            "respuesta\ncontenedor: web\ndato: codigo\nred: mired",
            "«red» no vale con «dato: codigo»",
        ),
    ],
)
def test_each_wrong_value_is_reported_with_its_line(body: str, expected: str) -> None:
    assert_reported_with_its_line(body, expected)


def test_the_new_keys_pass_and_parse() -> None:
    exercise = parsed_checks(
        "contenedor\nnombre: despensa\nestado: creado",
        "contenedor\nnombre: terco\nestado: parado\nreinicios: 3",
        "contenedor\nnombre: t\narchivo: /web/index.html\ncontiene: Hola\n"
        "sin_archivo: /web/claves.txt\nproceso: 'httpd .*-p 8080'\nsin_red: backend",
        "contenedor\nnombre: e\nmontaje: 'bind:/usr/share/nginx/html:ro'",
        "imagen\nnombre: 'tarjeta:1.1'\nmisma_que: 'tarjeta:latest'\ndistinta_de: 'tarjeta:1.0'"
        "\nhealthcheck: wget\ncapa: receta.txt\nmenos_de_mb: 10\npadre: false",
        "volumen\nnombre: portada_paginas\nlibre: true",
        "http\npuerto: 8085\ncoincide: 'contador: ([5-9]|[1-9][0-9]+)'",
        "registro\nnombre: registro.muelle/saludo\netiqueta: 1",
        "respuesta\ncontenedor: dado\ndato: registro\nextrae: '^Ha salido el (\\d+)'",
        "respuesta\ncontenedor: api\ndato: ip\nred: backend",
        "respuesta\ncontenedor: sorpresa\ndato: puerto\npuerto: '80'",
        "respuesta\ncontenedor: despensa\ndato: codigo",
    )
    created, restarted, inside, mount, image, volume, http, registry, *answers = exercise.checks
    assert created.state == "creado"
    assert restarted.restarts == 3 and restarted.state == "parado"
    assert inside.file == "/web/index.html" and inside.file_contains == "Hola"
    assert inside.no_file == "/web/claves.txt" and inside.not_network == "backend"
    assert inside.process.search("httpd -f -p 8080 -h /web")
    assert mount.mount.bind and mount.mount.read_only is True
    assert mount.mount.destination == "/usr/share/nginx/html"
    assert image.same_as == "tarjeta:latest" and image.differs_from == "tarjeta:1.0"
    assert image.healthcheck == "wget" and image.layer == "receta.txt"
    assert image.max_mb == 10 and image.parent is False
    assert volume.free is True
    assert http.matches.search("Visitas a mi contador: 12")
    assert registry.repository == "registro.muelle/saludo" and registry.tag == "1"
    logs, address, port, code = answers
    assert logs.docker.field == "registro" and logs.docker.extract.pattern == r"^Ha salido el (\d+)"
    assert address.docker.network == "backend" and address.docker.container == "api"
    assert port.docker.port.container == 80 and port.docker.port.protocol == "tcp"
    assert code.docker.field == "codigo" and code.command is None and code.expected is None
    assert exercise.needs_answer


def test_check_lessons_names_file_and_line_of_a_wrong_new_key(lessons_dir) -> None:
    out, line = check_lessons_fails(
        lessons_dir,
        "reinicios",
        "contenedor\nnombre: terco\nreinicios: muchos",
        "reinicios: muchos",
    )
    assert (
        f"02-reinicios.md:{line}: error: ejercicios[1].comprobaciones[1].reinicios: "
        "«reinicios» debe ser un número entero" in out
    )


def test_the_course_checks_run_no_docker_cli_but_where_only_an_exec_can_look() -> None:
    """Every course check that ran `docker …` in the sandbox now asks the gateway, except those
    whose data only a `docker exec` can read: rows in MariaDB, and what a container reaches
    over the network (another container by its name, or its own port)."""
    from exercises import catalog
    from exercises.spec import AnswerCheck, CommandCheck

    with_cli = [
        f"{lesson.slug}/{exercise.id}"
        for lesson in catalog.all_lessons()
        for exercise in lesson.exercises
        for c in exercise.checks
        if isinstance(c, CommandCheck | AnswerCheck) and "docker" in (c.command or "")
    ]
    assert with_cli == [
        "variables-de-entorno/biblioteca",
        "redes/app-y-datos",
        "redes/frontend-aislado",
        "construir-imagenes/tarjeta-en-marcha",
    ]


def test_the_documented_answer_from_a_container_validates() -> None:
    import re
    from pathlib import Path

    import yaml

    from exercises import spec

    doc = Path(__file__).resolve().parents[2] / "docs" / "exercises.md"
    block = re.search(r"```yaml\n(- tipo: respuesta\n  contenedor:.*?)```", doc.read_text(), re.S)
    assert block is not None
    exercise = {"id": "dado", "titulo": "Dado", "enunciado": "Tira.", "pista": "Mira."}
    [parsed] = spec.parse(
        {"ejercicios": [{**exercise, "comprobaciones": yaml.safe_load(block[1])}]}
    )
    [answer] = parsed.checks
    assert answer.docker.container == "dado" and answer.docker.field == "registro"
    assert answer.docker.extract.search("Ha salido el 6").group(1) == "6"
