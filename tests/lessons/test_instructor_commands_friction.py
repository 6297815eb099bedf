"""check_lessons as a new instructor meets it: a fresh clone, their own folder, broken files.

Each test is one friction point found by following docs/lessons.md from a fresh clone.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from .conftest import WriteLesson, lesson_text

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def manage(
    *args: str, cwd: Path, env_drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "MUELLE_INSECURE_DEV_KEY", *env_drop}
    }
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def course(tmp_path: Path) -> Path:
    folder = tmp_path / "instr-lessons"
    folder.mkdir()
    write(
        folder,
        "02-y.md",
        lesson_text("# Título Y\n\n[mal](#otro) [bien](#titulo-y)\n", slug="y", orden=2),
    )
    broken = (
        "---\ntitulo: X\nslug: x\norden: 4\nresumen: a: b\nnivel: básico\nduracion: 5\n"
        "objetivos:\n- uno\n---\n# Hola\n\n[uno](#no-existe) [dos](02-y.md#nada) "
        "[tres](02-y.md#titulo-y)\n"
    )
    write(folder, "04-x.md", broken)
    return folder


def test_check_lessons_runs_in_a_fresh_clone_with_nothing_set(course: Path) -> None:
    result = manage("check_lessons", str(course), cwd=course.parent)
    assert "Traceback" not in result.stderr
    assert "SECRET_KEY" not in result.stderr
    assert result.returncode == 1  # the course above is broken on purpose
    assert "lecciones comprobadas" in result.stderr


def test_the_server_still_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = manage("migrate", "--check", cwd=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_paths_are_printed_as_the_instructor_typed_them(course: Path) -> None:
    relative = manage("check_lessons", "instr-lessons", cwd=course.parent)
    absolute = manage("check_lessons", str(course), cwd=Path(settings.BASE_DIR))
    relative_lines = [line for line in relative.stdout.splitlines() if ": error:" in line]
    absolute_lines = [line for line in absolute.stdout.splitlines() if ": error:" in line]
    assert relative_lines and all(line.startswith("instr-lessons/") for line in relative_lines)
    assert absolute_lines and all(line.startswith(f"{course}/") for line in absolute_lines)
    # Each one opens: the file part is a real path from where the command ran.
    for line in relative_lines:
        assert (course.parent / line.split(":", 1)[0]).is_file()


def test_a_broken_header_does_not_hide_the_body_and_lines_are_sorted(course: Path) -> None:
    result = manage("check_lessons", str(course), cwd=course.parent)
    lines = [line for line in result.stdout.splitlines() if ": error:" in line]
    x_lines = [line for line in lines if "04-x.md" in line]
    assert any(":5: error: YAML no válido" in line for line in x_lines)
    # The body's links are checked although the header is broken.
    assert any("#no-existe" in line for line in x_lines)
    assert any("#nada" in line for line in x_lines)
    keys = [(line.split(":")[0], int(line.split(":")[1])) for line in lines]
    assert keys == sorted(keys)


def test_yaml_errors_are_explained_in_spanish(course: Path) -> None:
    result = manage("check_lessons", str(course), cwd=course.parent)
    yaml_line = next(line for line in result.stdout.splitlines() if "YAML" in line)
    assert "comillas" in yaml_line
    for english in ("mapping values", "not allowed", "could not", "expected"):
        assert english not in yaml_line


def test_broken_anchors_are_reported_and_working_ones_are_not(course: Path) -> None:
    result = manage("check_lessons", str(course), cwd=course.parent)
    out = result.stdout
    assert "«#otro»" in out and "«#no-existe»" in out and "«#nada»" in out
    assert "«#titulo-y»" not in out.replace("anclas que tiene: #titulo-y", "")
    assert "«#hola»" not in out


def test_counts_agree_in_number(write_lesson: WriteLesson, lessons_dir: Path) -> None:
    write_lesson("01-a.md", body="# A\n\n[roto](#nada)\n\n```bash raro\nls\n```\n")
    result = manage("check_lessons", str(lessons_dir), cwd=lessons_dir)
    assert "1 lección comprobada: 1 error, 1 aviso." in result.stderr


def test_a_slug_is_accepted_as_well_as_a_path(write_lesson: WriteLesson, lessons_dir: Path) -> None:
    write_lesson("01-a.md", slug="mi-leccion", body="# A\n\n[roto](#nada)\n")
    env_dir = lessons_dir.parent
    by_slug = subprocess.run(
        [sys.executable, MANAGE, "check_lessons", "mi-leccion"],
        cwd=env_dir,
        env={**os.environ, "LESSONS_DIR": str(lessons_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert by_slug.returncode == 1
    assert "01-a.md:" in by_slug.stdout and "«#nada»" in by_slug.stdout
    unknown = manage("check_lessons", "no-existe-esto", cwd=env_dir)
    assert unknown.returncode != 0
    assert (
        "No existe ningún archivo, carpeta ni lección con el slug «no-existe-esto»"
        in unknown.stderr
    )


@pytest.mark.parametrize("command", ["verify_solutions", "run_blocks"])
def test_sandbox_commands_create_the_local_tables_in_a_fresh_clone(
    command: str, course: Path, tmp_path: Path
) -> None:
    # A fresh clone has no tables yet; the commands used to stop on «no such table».
    database = tmp_path / "fresh.sqlite3"
    env = {**os.environ, "SQLITE_PATH": str(database), "DATABASE_URL": ""}
    result = subprocess.run(
        [sys.executable, MANAGE, command, "no-existe"],
        cwd=course.parent,
        env={k: v for k, v in env.items() if k not in {"SECRET_KEY", "MUELLE_INSECURE_DEV_KEY"}},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "Preparando la base de datos local" in result.stdout
    assert "No existe ninguna lección «no-existe»." in result.stderr
    tables = sqlite3.connect(database).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("sandbox_sandbox",) in tables
