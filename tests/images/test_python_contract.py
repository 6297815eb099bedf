"""python:3.11-slim: python and pip on PATH, venv, pip installs into the image's Python, and a
Dockerfile FROM it builds."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest

pytestmark = pytest.mark.docker


def test_python_and_pip_are_on_the_path(lab, image_of) -> None:  # noqa: ANN001
    code, out = lab.run(
        image_of("python"), ["sh", "-c", "python --version && pip --version && python3 -V"]
    )
    assert code == 0, out
    assert out.count("Python 3.11") == 2
    assert "pip " in out and "python 3.11" in out


def test_venv_and_the_standard_library_work(lab, image_of) -> None:  # noqa: ANN001
    script = (
        "python -m venv /srv/v && /srv/v/bin/python -c "
        "'import sqlite3, ssl, json, sys; print(sys.prefix)'"
    )
    code, out = lab.run(image_of("python"), ["sh", "-c", script])
    assert code == 0, out
    assert out.strip() == "/srv/v"


def test_pip_installs_a_local_package_into_the_image_python(lab, image_of) -> None:  # noqa: ANN001
    # No index here: a local project, installed by pip as a student would after `COPY . .`.
    script = """set -e
mkdir -p /tmp/saludo/saludo && cd /tmp/saludo
echo 'def hola(): return "hola"' > saludo/__init__.py
echo 'from setuptools import setup' > setup.py
echo 'setup(name="saludo", version="1.0", packages=["saludo"])' >> setup.py
pip install --no-index --no-build-isolation --no-cache-dir . 2>&1 | grep Successfully
cd / && python -c 'import saludo; print(saludo.hola())'
"""
    code, out = lab.run(image_of("python"), ["sh", "-c", script])
    assert code == 0, out
    assert "Successfully installed saludo-1.0" in out
    assert out.strip().endswith("hola")


def test_a_dockerfile_from_it_builds_and_runs(client, lab, image_of) -> None:  # noqa: ANN001
    dockerfile = (
        f'FROM {image_of("python")}\nWORKDIR /app\nCOPY app.py .\nCMD ["python", "app.py"]\n'
    ).encode()
    app = b"print('hola desde', __name__)\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("app.py", app)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    tag = f"contract-python-app:{uuid.uuid4().hex[:8]}"
    image, _log = client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    try:
        code, out = lab.run(tag, [])
        assert code == 0, out
        assert out.strip() == "hola desde __main__"
    finally:
        client.images.remove(image.id, force=True)
