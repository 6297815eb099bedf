"""The workspace's file operations against the real sandbox: what the editor saves is what the
terminal sees, and what the terminal changes the editor notices."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import workspace

from .conftest import shell

pytestmark = pytest.mark.docker


async def test_a_saved_file_is_what_cat_shows_owned_by_the_student(sandbox: Any) -> None:
    text = 'FROM muelle/hola\nCMD ["echo", "¡hola, año nuevo!"]\n'
    version = await workspace.write_file(sandbox, "proyecto/Dockerfile", text, "")
    assert version == workspace.version_of(text.encode())
    code, out = await shell(sandbox, "cat ~/proyecto/Dockerfile")
    assert (code, out.decode()) == (0, text)
    code, out = await shell(sandbox, "stat -c '%u:%g %a' ~/proyecto/Dockerfile")
    assert out.decode().strip() == "1000:1000 644"


async def test_a_save_keeps_the_file_mode(sandbox: Any) -> None:
    await shell(sandbox, "printf 'echo uno\\n' > ~/run.sh && chmod 750 ~/run.sh")
    found = await workspace.read_file(sandbox, "run.sh")
    await workspace.write_file(sandbox, "run.sh", "echo dos\n", found.version)
    code, out = await shell(sandbox, "stat -c %a ~/run.sh && ~/run.sh")
    assert out.decode().split() == ["750", "dos"]


async def test_a_read_returns_the_text_and_its_version(sandbox: Any) -> None:
    await shell(sandbox, "printf 'a: 1\\n' > ~/compose.yaml")
    found = await workspace.read_file(sandbox, "~/compose.yaml")
    assert found.path == "compose.yaml"
    assert found.text == "a: 1\n"
    assert found.version == workspace.version_of(b"a: 1\n")


async def test_a_change_in_the_terminal_makes_the_old_version_stale(sandbox: Any) -> None:
    await workspace.write_file(sandbox, "index.html", "<h1>uno</h1>\n", "")
    opened = await workspace.read_file(sandbox, "index.html")
    await shell(sandbox, "echo '<h1>terminal</h1>' > ~/index.html")

    again = await workspace.read_file(sandbox, "index.html")
    assert again.version != opened.version
    assert again.text == "<h1>terminal</h1>\n"

    with pytest.raises(workspace.Stale) as refused:
        await workspace.write_file(sandbox, "index.html", "<h1>editor</h1>\n", opened.version)
    assert refused.value.status == 409
    assert refused.value.version == again.version
    assert "cambió en la terminal" in refused.value.message
    code, out = await shell(sandbox, "cat ~/index.html")
    assert out == b"<h1>terminal</h1>\n"  # the refused save changed nothing

    # «Sobrescribir»: the student chose the editor's text.
    await workspace.write_file(sandbox, "index.html", "<h1>editor</h1>\n", workspace.OVERWRITE)
    code, out = await shell(sandbox, "cat ~/index.html")
    assert out == b"<h1>editor</h1>\n"


async def test_a_file_deleted_in_the_terminal_is_a_conflict_too(sandbox: Any) -> None:
    version = await workspace.write_file(sandbox, "app.py", "print(1)\n", "")
    await shell(sandbox, "rm ~/app.py")
    with pytest.raises(workspace.Stale) as refused:
        await workspace.write_file(sandbox, "app.py", "print(2)\n", version)
    assert refused.value.version == ""


async def test_a_new_file_never_replaces_one_made_meanwhile(sandbox: Any) -> None:
    await shell(sandbox, "echo mio > ~/nota.txt")
    with pytest.raises(workspace.Stale):
        await workspace.write_file(sandbox, "nota.txt", "del editor\n", "")
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.create(sandbox, "nota.txt", folder=False)
    assert refused.value.status == 409
    code, out = await shell(sandbox, "cat ~/nota.txt")
    assert out == b"mio\n"


async def test_the_tree_lists_the_home_and_skips_heavy_folders(sandbox: Any) -> None:
    await shell(
        sandbox,
        "mkdir -p ~/web/css ~/node_modules/x && echo a > ~/web/index.html && "
        "echo b > ~/web/css/estilo.css && echo c > ~/node_modules/x/y.js && ln -s /etc ~/enlace",
    )
    tree = await workspace.list_tree(sandbox)
    kinds = {entry.path: entry.kind for entry in tree.entries}
    assert kinds["web"] == "folder"
    assert kinds["web/index.html"] == "file"
    assert kinds["web/css/estilo.css"] == "file"
    assert kinds["node_modules"] == "folder"
    assert "node_modules/x" not in kinds
    assert kinds["enlace"] == "link"
    assert not any(path.startswith("enlace/") for path in kinds)
    assert tree.truncated is False


async def test_the_tree_is_bounded(sandbox: Any) -> None:
    await shell(sandbox, "mkdir ~/muchos && cd ~/muchos && touch $(seq 1 700)")
    tree = await workspace.list_tree(sandbox)
    assert len(tree.entries) == workspace.TREE_ENTRIES
    assert tree.truncated is True


async def test_create_rename_and_delete(sandbox: Any) -> None:
    await workspace.create(sandbox, "src", folder=True)
    await workspace.create(sandbox, "src/main.py", folder=False)
    await workspace.write_file(sandbox, "src/main.py", "print('hola')\n", workspace.version_of(b""))
    assert await workspace.rename(sandbox, "src", "app") == "app"
    code, out = await shell(sandbox, "cat ~/app/main.py; test -e ~/src; echo $?")
    assert out == b"print('hola')\n1\n"
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.rename(sandbox, "app/main.py", "app")
    assert refused.value.status == 409
    await workspace.delete(sandbox, "app")
    code, out = await shell(sandbox, "ls -A ~")
    assert b"app" not in out.split()
    with pytest.raises(workspace.WorkspaceError) as refused:
        await workspace.delete(sandbox, "app")
    assert refused.value.status == 404


async def test_a_name_with_spaces_is_that_file_and_no_other(sandbox: Any) -> None:
    # The tree lists `notas ` and `clave ` beside `notas` and `clave`; the editor sends those
    # names back as they are. Trimmed, a read showed the other file and a delete removed it.
    await shell(
        sandbox,
        "mkdir -p ~/notas ~/'notas ' && touch ~/notas/a.txt ~/'notas '/b.txt && "
        "echo secreto > ~/clave && echo otro > ~/'clave '",
    )
    listed = {entry.path for entry in (await workspace.list_tree(sandbox)).entries}
    assert {"clave", "clave ", "notas", "notas "} <= listed
    found = await workspace.read_file(sandbox, "clave ")
    assert (found.path, found.text) == ("clave ", "otro\n")
    await workspace.delete(sandbox, "notas ")
    code, out = await shell(sandbox, "ls ~/notas; test -e ~/'notas '; echo $?")
    assert out == b"a.txt\n1\n"
