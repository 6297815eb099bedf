from __future__ import annotations

import pytest

from sandbox import engine

from .conftest import GATEWAY_DIR, TEST_INSTANCE, inspect

pytestmark = pytest.mark.docker

TMP = "/tmp"  # noqa: S108  (the path inside the container, not here)


async def test_every_container_carries_every_hardening_flag(settings) -> None:
    sandbox = await engine.acquire("owner-hardening")
    info = inspect(sandbox.container_id)
    host = info["HostConfig"]
    config = info["Config"]

    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]  # and so no seccomp=unconfined
    assert host["Privileged"] is False
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 128
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]
    assert host["Init"] is True
    assert host["LogConfig"] == {"Type": "none", "Config": {}}  # the first terminal's output
    assert host["RestartPolicy"]["Name"] in ("no", "")
    assert host["RestartPolicy"]["MaximumRetryCount"] == 0
    # Not one host path, except the student's own Docker gateway folder, read-only; never the
    # engine's socket.
    assert not host.get("Binds")
    folder = GATEWAY_DIR / labels_of(config)["muelle.gateway"]
    assert folder.is_dir() and folder.parent == GATEWAY_DIR
    assert host["Mounts"] == [
        {
            "Type": "bind",
            "Source": str(folder),
            "Target": "/run/muelle",
            "ReadOnly": True,
            "BindOptions": {"Propagation": "rprivate"},
        },
        # The project folder: an engine-managed tmpfs volume, no host path (project_volume.py).
        {
            "Type": "volume",
            "Source": f"muelle-proyecto-{folder.name}",
            "Target": "/home/alumno/proyecto",
            "VolumeOptions": {
                "NoCopy": True,
                "Labels": {
                    "muelle.managed": "1",
                    "muelle.instance": TEST_INSTANCE,
                    "muelle.role": "project",
                    "muelle.gateway": folder.name,
                },
                "DriverConfig": {
                    "Name": "local",
                    "Options": {
                        "type": "tmpfs",
                        "device": "tmpfs",
                        "o": "size=64m,uid=1000,gid=1000,mode=0755,nosuid,nodev",
                    },
                },
            },
        },
    ]
    assert sorted(
        (m["Type"], m.get("Name", m["Source"]), m["Destination"], m["RW"]) for m in info["Mounts"]
    ) == [
        ("bind", str(folder), "/run/muelle", False),
        ("volume", f"muelle-proyecto-{folder.name}", "/home/alumno/proyecto", True),
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["docker.sock"]
    assert not any("docker.sock" in m["Source"] for m in info["Mounts"])
    assert not host.get("Devices")
    assert host["PidMode"] == "" and host["UTSMode"] == "" and host["UsernsMode"] == ""
    assert host["IpcMode"] == "private"
    assert set(host["Tmpfs"]) == {"/home/alumno", TMP}
    assert "uid=1000,gid=1000,mode=0700" in host["Tmpfs"]["/home/alumno"]
    assert "size=64m" in host["Tmpfs"]["/home/alumno"]
    assert "noexec" in host["Tmpfs"][TMP]

    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/home/alumno"
    assert sorted(config["Env"]) == sorted(
        [
            "TERM=xterm-256color",
            "LANG=C.UTF-8",
            "HOME=/home/alumno",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "DOCKER_HOST=unix:///run/muelle/docker.sock",
            "DOCKER_BUILDKIT=0",
        ]
    )
    assert config["Hostname"].startswith("muelle-")
    assert "owner" not in config["Hostname"]
    labels = config["Labels"]
    assert labels["muelle.managed"] == "1"
    assert labels["muelle.instance"] == TEST_INSTANCE
    assert labels["muelle.role"] == "sandbox"
    assert labels["muelle.owner"] == "owner-hardening"
    assert int(labels["muelle.expires"]) - int(labels["muelle.created"]) == 2 * 60 * 60
    assert "muelle.pool" not in labels


def labels_of(config: dict) -> dict[str, str]:
    return config["Labels"]


async def test_without_the_gateway_nothing_of_the_host_is_mounted(settings) -> None:
    settings.DOCKER_GATEWAY_ENABLED = False
    sandbox = await engine.acquire("owner-no-gateway")
    info = inspect(sandbox.container_id)
    assert not info["HostConfig"].get("Binds")
    assert not info["HostConfig"].get("Mounts")
    assert info["Mounts"] == []
    assert "muelle.gateway" not in info["Config"]["Labels"]
    assert not any(e.startswith("DOCKER_HOST=") for e in info["Config"]["Env"])


async def test_the_limits_hold_inside_the_container() -> None:
    sandbox = await engine.acquire("owner-limits-inside")
    result = await engine.run(
        sandbox,
        [
            "bash",
            "-c",
            "id -u; ulimit -n; touch /etc/x 2>&1; touch ~/ok && echo home-ok; "
            "ip -o link | cut -d: -f2; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status",
        ],
    )
    text = result.output.decode()
    lines = text.splitlines()
    assert lines[0] == "1000"
    assert lines[1] == "1024"
    assert "Read-only file system" in lines[2]
    assert "home-ok" in text
    assert [line.strip() for line in lines if line.strip() in ("lo", "eth0")] == ["lo"]
    assert "CapEff:\t0000000000000000" in text
    assert "NoNewPrivs:\t1" in text
    assert "Seccomp:\t2" in text  # filter mode: the default profile is on
