"""The production system checks: each unsafe setting fails `check --deploy`, a safe one passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.core.checks import WARNING, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from tutorial import checks

SAFE_ENV = {
    "SECRET_KEY": "k3y-" + "x7Q9zA2mL5" * 6,
    "HTTPS": "1",
    "DEBUG": "0",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "muelle.example.org",
}


def _deploy_check_ids() -> set[str]:
    try:
        call_command("check", "--deploy", "--tag", "security")
    except SystemCheckError as exc:
        return set(re.findall(r"\((muelle\.E\d+)\)", str(exc)))
    return set()


def _ids(errors: list) -> set[str]:
    return {e.id for e in errors}


def test_it_refuses_the_in_memory_channel_layer() -> None:
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    ):
        assert _ids(checks.check_channel_layer(None)) == {"muelle.E001"}
    redis = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=redis):
        assert checks.check_channel_layer(None) == []


def test_it_refuses_a_wildcard_allowed_host() -> None:
    with override_settings(ALLOWED_HOSTS=["*"]):
        assert _ids(checks.check_allowed_hosts(None)) == {"muelle.E002"}
    with override_settings(ALLOWED_HOSTS=["muelle.example.org"]):
        assert checks.check_allowed_hosts(None) == []


def test_it_refuses_websocket_routes_without_origin_validation() -> None:
    assert checks.check_websocket_origin_validation(None) == []
    with override_settings(ASGI_APPLICATION="tests.unsafe_asgi.application"):
        assert _ids(checks.check_websocket_origin_validation(None)) == {"muelle.E003"}


@pytest.mark.parametrize(
    "override",
    [
        {"SANDBOX_NETWORK": "bridge"},
        {"SANDBOX_READ_ONLY": False},
        {"SANDBOX_USER": "0:0"},
        {"SANDBOX_USER": "root"},
        {"SANDBOX_PIDS_LIMIT": 100000},
    ],
)
def test_it_refuses_switched_off_hardening(override: dict) -> None:
    assert checks.check_sandbox_hardening(None) == []
    with override_settings(**override):
        assert _ids(checks.check_sandbox_hardening(None)) == {"muelle.E004"}


def test_check_deploy_fails_through_the_real_command() -> None:
    with override_settings(ALLOWED_HOSTS=["*"], SANDBOX_NETWORK="host"):
        assert {"muelle.E002", "muelle.E004"} <= _deploy_check_ids()


def test_check_deploy_is_clean_with_production_settings(tmp_path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if k not in {"MUELLE_INSECURE_DEV_KEY"}}
    env.update(SAFE_ENV, SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = result.stdout + result.stderr
    if checks.check_io_uring(None):
        # The one thing that is this machine's kernel, not Muelle's settings (io_uring open):
        # a warning, and the only issue.
        assert re.findall(r"\((\S+\.[EW]\d+)\)", said) == ["muelle.W001"], said
    else:
        assert result.returncode == 0, said
        assert "no issues" in result.stdout


def test_production_start_without_secret_key_fails_loudly(tmp_path) -> None:  # noqa: ANN001
    env = {
        k: v for k, v in os.environ.items() if k not in {"MUELLE_INSECURE_DEV_KEY", "SECRET_KEY"}
    }
    env.update(DEBUG="0", SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_malformed_setting_stops_the_start(tmp_path) -> None:  # noqa: ANN001
    env = dict(os.environ, SANDBOX_PIDS_LIMIT="muchos", SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SANDBOX_PIDS_LIMIT must be an integer" in result.stderr


def test_it_warns_when_io_uring_is_open_to_students_with_the_disk_limit_on(
    tmp_path: Any, monkeypatch: Any
) -> None:
    switch, group = tmp_path / "io_uring_disabled", tmp_path / "io_uring_group"
    monkeypatch.setattr(checks, "IO_URING_SWITCH", switch)
    monkeypatch.setattr(checks, "IO_URING_GROUP", group)
    with override_settings(DOCKER_GATEWAY_ENABLED=True, DOCKER_GATEWAY_MAX_DISK=2 << 30):
        switch.write_text("0\n")
        found = checks.check_io_uring(None)
        assert _ids(found) == {"muelle.W001"}
        assert "kernel.io_uring_disabled is 0" in found[0].msg
        switch.unlink()  # a kernel older than 6.6
        assert "has no switch" in checks.check_io_uring(None)[0].msg
        switch.write_text("2\n")  # no one
        assert checks.check_io_uring(None) == []
        switch.write_text("1\n")  # the privileged only (students have no capability)...
        assert checks.check_io_uring(None) == []
        group.write_text("-1\n")
        assert checks.check_io_uring(None) == []
        group.write_text("1000\n")  # ...and a group, which a student can join (--user 0:1000)
        assert _ids(checks.check_io_uring(None)) == {"muelle.W001"}
    switch.write_text("0\n")
    with override_settings(DOCKER_GATEWAY_ENABLED=True, DOCKER_GATEWAY_MAX_DISK=0):
        assert checks.check_io_uring(None) == []  # no disk limit: nothing to hide from
    with override_settings(DOCKER_GATEWAY_ENABLED=False, DOCKER_GATEWAY_MAX_DISK=2 << 30):
        assert checks.check_io_uring(None) == []  # no gateway: no disk measure


def test_the_io_uring_warning_is_said_by_check_deploy_and_does_not_stop_it(
    tmp_path: Any, monkeypatch: Any
) -> None:
    switch = tmp_path / "io_uring_disabled"
    switch.write_text("0\n")
    monkeypatch.setattr(checks, "IO_URING_SWITCH", switch)
    with override_settings(DOCKER_GATEWAY_ENABLED=True, DOCKER_GATEWAY_MAX_DISK=2 << 30):
        found = [m for m in run_checks(include_deployment_checks=True) if m.id == "muelle.W001"]
        assert [m.id for m in run_checks()].count("muelle.W001") == 0  # --deploy only
    # Registered for --deploy, as a warning: below ERROR, the level that stops a start.
    assert len(found) == 1 and found[0].level == WARNING
