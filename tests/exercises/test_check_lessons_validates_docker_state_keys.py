"""check_lessons validates the Docker-state check kinds' keys (unknown keys, wrong types, bad
port syntax...) and refuses check commands that would change the student's Docker state, each
with its file and line."""

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
        ("contenedor\nnombre: web\nimagen: nginx", "exactamente una de: nombre o imagen"),
        ("contenedor\nnombre: web\nestado: corriendo", "«estado» debe ser uno de"),
        ("contenedor\nnombre: web\npuerto: '80:80:80'", "«puerto» debe ser"),
        ("contenedor\nnombre: web\npuerto: '70000'", "«puerto» debe ser"),
        ("contenedor\nnombre: web\nmontaje: datos", "«montaje» debe ser"),
        ("contenedor\nnombre: web\nreinicio: siempre", "«reinicio» debe ser uno de"),
        ("contenedor\nnombre: web\nentorno: COLOR", "«entorno» debe ser «CLAVE=valor»"),
        ("contenedor\nnombre: web\nestado: no-existe\nred: x", "sobran: red"),
        (
            "contenedor\nnombre: web\nestado: en-marcha\ncodigo: 1",
            "no vale con «estado: en-marcha»",
        ),
        ("contenedor\nnombre: 'mal nombre'", "«nombre» debe ser un nombre de Docker"),
        ("contenedor\nnombre: web\npuertos: 80", "clave desconocida «puertos»"),
        ("contenedor\nnombre: web\nsalud: sano", "«salud» debe ser uno de: healthy"),
        ("imagen\ncmd: python", "necesita «nombre»"),
        ("imagen\nnombre: app\ncmd: {a: 1}", "«cmd» debe ser una lista"),
        ("imagen\nnombre: app\nexpone: http", "«expone» debe ser un puerto"),
        ("imagen\nnombre: app\nexiste: false\nusuario: x", "sobran: usuario"),
        ("imagen\nnombre: app\ndirectorio: app", "ruta absoluta"),
        ("volumen\nnombre: notas\ncontiene: hola", "«contiene» necesita «archivo»"),
        ("volumen\nnombre: notas\nexiste: 'no'", "«existe» debe ser true o false"),
        ("red\nnombre: mired\ncontenedores: web", "lista de nombres de contenedores"),
        ("red\nnombre: mired\ninterna: 1", "«interna» debe ser true o false"),
        ("compose\nproyecto: tienda", "necesita «servicios»"),
        ("http\npuerto: 0", "«puerto»: un número de 1 a 65535"),
        ("http\npuerto: 8080\nruta: index.html", "«ruta» debe empezar por «/»"),
        ("http\npuerto: 8080\nruta: '/a b'", "«ruta» debe empezar por «/»"),
        ("http\npuerto: 8080\ncodigo: 99", "«codigo» debe ser un código HTTP"),
        ("comando\ncomando: docker run -v notas:/x muelle/busybox true", "«docker run» crea"),
        ('comando\ncomando: test -n "$(docker volume create x)"', "«docker volume create»"),
        ("respuesta\ncomando: docker compose up -d && docker ps", "«docker compose up»"),
    ],
)
def test_each_problem_is_reported_with_its_line(body: str, expected: str) -> None:
    assert_reported_with_its_line(body, expected)


def test_valid_docker_state_checks_pass_and_parse() -> None:
    exercise = parsed_checks(
        "contenedor\nnombre: web\npuerto: '8080:80'\nmontaje: 'notas:/datos'\n"
        "red: mired\nreinicio: unless-stopped\nentorno: A=b",
        "contenedor\nimagen: muelle/web\ncodigo: 0",
        "contenedor\nnombre: viejo\nestado: no-existe",
        "imagen\nnombre: mi-app:1\ncmd: [python, app.py]\nusuario: 1000\nexpone: 80\n"
        "etiqueta: a=b\nvariable: A=b\ndirectorio: /app",
        "volumen\nnombre: notas\narchivo: a.txt\ncontiene: hola",
        "red\nnombre: mired\ncontenedores: [web, db]\ninterna: true",
        "compose\nproyecto: tienda\nservicios: [web, db]",
        "http\npuerto: 8080\nruta: /index.html\ncontiene: Hola\ncodigo: 200",
        "comando\ncomando: docker ps --format '{{.Names}}' | grep -x web",
    )
    container, by_image, gone, image, volume, network, compose, http, _command = exercise.checks
    assert container.port.host == 8080 and container.port.container == 80
    assert container.mount.volume == "notas" and container.mount.destination == "/datos"
    assert by_image.state == "parado" and by_image.exit_code == 0
    assert gone.state == "no-existe"
    assert image.cmd == ("python", "app.py") and image.user == ("1000",)
    assert image.exposes == "80/tcp"
    assert volume.path == "a.txt" and network.containers == ("web", "db")
    assert compose.services == ("web", "db") and http.path == "/index.html"


def test_check_lessons_shows_file_and_line(lessons_dir) -> None:
    out, line = check_lessons_fails(
        lessons_dir, "puertos", "contenedor\nnombre: web\npuerto: ochenta", "puerto: ochenta"
    )
    assert (
        f"02-puertos.md:{line}: error: ejercicios[1].comprobaciones[1].puerto: «puerto» debe ser"
        in out
    )


def test_a_cmd_text_matches_exec_and_shell_forms() -> None:
    from exercises.docker_checks import same_command

    assert same_command(["python", "app.py"], ("python", "app.py"))
    assert not same_command(["python", "app.py"], ("python", "main.py"))
    assert same_command(["python", "app.py"], "python  app.py")
    assert same_command(["/bin/sh", "-c", "python app.py"], "python app.py")
    assert not same_command(["/bin/sh", "-c", "python app.py"], ("python", "app.py"))
    assert not same_command(None, "python app.py")
