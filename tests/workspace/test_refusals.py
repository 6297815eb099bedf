"""Every refusal of the workspace, tried as a student would try it, against the real sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import workspace

from .conftest import shell


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "a/../../etc/passwd", "/etc/passwd", "/home/alumnox/a", "~/../x", "", "~",
     "/home/alumno", "a\nb", "a\x00b", "x" * 300],
)  # fmt: skip
def test_paths_outside_or_malformed_are_refused_before_the_container(path: str) -> None:
    with pytest.raises(workspace.WorkspaceError) as refused:
        workspace.clean_path(path)
    assert refused.value.status in (400, 403)
    assert refused.value.message


@pytest.mark.parametrize(
    ("path", "clean"),
    [("Dockerfile", "Dockerfile"), ("~/web/index.html", "web/index.html"),
     ("/home/alumno/a/./b", "a/b"), ("a//b/", "a/b")],
)  # fmt: skip
def test_paths_in_the_home_are_normalised(path: str, clean: str) -> None:
    assert workspace.clean_path(path) == clean


@pytest.mark.docker
async def test_a_symlink_out_of_the_home_is_refused_for_reading_and_writing(sandbox: Any) -> None:
    await shell(sandbox, "ln -s /etc/passwd ~/fuera && ln -s / ~/raiz && ln -s /tmp ~/tmp")
    for path in ("fuera", "raiz/etc/passwd", "tmp/nuevo"):
        with pytest.raises(workspace.WorkspaceError) as refused:
            await workspace.read_file(sandbox, path)
        assert refused.value.status in (403, 404), path
    for path in ("fuera", "raiz/etc/hostname", "tmp/nuevo"):
        with pytest.raises(workspace.WorkspaceError) as refused:
            await workspace.write_file(sandbox, path, "x", workspace.OVERWRITE)
        assert refused.value.status == 403, path
        assert "fuera de tu carpeta" in refused.value.message
    code, out = await shell(sandbox, "ls /tmp; head -1 /etc/passwd")
    assert b"nuevo" not in out
    assert out.startswith(b"root:")
    # Deleting or renaming the link touches the link, never what it points to.
    await workspace.delete(sandbox, "fuera")
    code, out = await shell(sandbox, "test -e /etc/passwd && test ! -L ~/fuera && echo ok")
    assert out == b"ok\n"


@pytest.mark.docker
async def test_a_binary_file_is_refused(sandbox: Any) -> None:
    await shell(sandbox, "printf 'ELF\\0\\1\\2' > ~/programa && printf '\\xff\\xfe' > ~/latin")
    for path in ("programa", "latin"):
        with pytest.raises(workspace.WorkspaceError) as refused:
            await workspace.read_file(sandbox, path)
        assert refused.value.status == 415
        assert "binario" in refused.value.message
    with pytest.raises(workspace.WorkspaceError):
        await workspace.write_file(sandbox, "nul.txt", "a\0b", "")


@pytest.mark.docker
async def test_a_file_over_one_mebibyte_is_refused(sandbox: Any) -> None:
    await shell(sandbox, "head -c 1048577 /dev/zero | tr '\\0' a > ~/grande.txt")
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.read_file(sandbox, "grande.txt")
    assert refused.value.status == 413
    assert "1 MiB" in refused.value.message
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.write_file(sandbox, "otro.txt", "a" * (1024 * 1024 + 1), "")
    assert refused.value.status == 413
    # Exactly 1 MiB is still text the editor opens.
    await shell(sandbox, "head -c 1048576 ~/grande.txt > ~/justo.txt")
    found = await workspace.read_file(sandbox, "justo.txt")
    assert len(found.text) == 1024 * 1024


@pytest.mark.docker
async def test_a_folder_is_not_a_file(sandbox: Any) -> None:
    await shell(sandbox, "mkdir ~/carpeta")
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.read_file(sandbox, "carpeta")
    assert refused.value.status == 400
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.read_file(sandbox, "no-existe.txt")
    assert refused.value.status == 404


@pytest.mark.docker
async def test_a_full_home_refuses_the_save_and_keeps_the_old_file(
    settings: Any, remove_sandboxes: None
) -> None:
    from sandbox import engine
    from sandbox.terminals import owner_key

    settings.SANDBOX_WORKDIR_SIZE = "4m"
    sandbox = await engine.acquire(owner_key("test:lleno"))
    version = await workspace.write_file(sandbox, "app.py", "print('antes')\n", "")
    # cat's «No space left» goes to stderr, which may arrive after df's line: keep it out.
    code, out = await shell(
        sandbox, "cat /dev/zero > ~/relleno 2>/dev/null; df --output=avail ~ | tail -1"
    )
    assert out.split()[-1] == b"0"
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.write_file(sandbox, "app.py", "print('después')\n" * 100, version)
    assert refused.value.status == 507
    assert "No queda espacio" in refused.value.message
    code, out = await shell(sandbox, "cat ~/app.py; ls -A ~")
    assert out == b"print('antes')\napp.py\nrelleno\n"  # no half-written temporary left behind


@pytest.mark.docker
async def test_a_read_only_folder_is_a_clear_refusal_not_a_server_error(sandbox: Any) -> None:
    # An attack review's 500s («Vuelve a intentarlo», logged as a server error) for a folder the
    # student made read-only: the tool's «Permission denied» is now said as what it is.
    await shell(
        sandbox,
        "mkdir -p ~/ro ~/arbol/sub && echo hola > ~/ro/f && touch ~/arbol/sub/x && "
        "chmod 555 ~/ro ~/arbol/sub",
    )
    attempts = [
        workspace.write_file(sandbox, "ro/f", "adiós", workspace.OVERWRITE),
        workspace.write_file(sandbox, "ro/nuevo", "x", ""),
        workspace.write_file(sandbox, "ro/dentro/nuevo", "x", ""),
        workspace.create(sandbox, "ro/carpeta", folder=True),
        workspace.create(sandbox, "ro/vacio", folder=False),
        workspace.rename(sandbox, "ro/f", "f2"),
        workspace.delete(sandbox, "arbol"),
    ]
    for attempt in attempts:
        with pytest.raises(workspace.WorkspaceError) as refused:
            await attempt
        assert refused.value.status == 403, refused.value.message
        assert "No tienes permiso" in refused.value.message
    code, out = await shell(sandbox, "cat ~/ro/f; ls ~/ro; ls ~/arbol/sub")
    assert out == b"hola\nf\nx\n"
    # A file where a folder should be is still the folder's message, not a server error.
    await shell(sandbox, "echo x > ~/archivo")
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.write_file(sandbox, "archivo/sub/nuevo", "x", "")
    assert refused.value.status == 400 and "no es una carpeta" in refused.value.message
