"""tutorial/env.py: one grammar for sizes and one for durations, and a bad value stops the start
naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from sandbox import hardening
from sandbox.gateway import policy
from sandbox.gateway.config import GatewayConfig
from tutorial.env import env_duration, env_size, format_size, parse_duration, parse_size

KIB, MIB, GIB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512", 512),
        ("0", 0),
        ("3b", 3),
        ("256k", 256 * KIB),
        ("256K", 256 * KIB),
        ("256m", 256 * MIB),
        ("256MB", 256 * MIB),
        ("256MiB", 256 * MIB),
        ("256mib", 256 * MIB),
        ("1g", GIB),
        (" 1 g ", GIB),
        ("1.5g", 1536 * MIB),
        (".5k", 512),
        ("0.3k", 307),  # rounded down to a whole byte, as Docker does
        ("2t", 2 * 1024**4),
        ("9007199254740993", 9007199254740993),  # exact beyond a float's precision
    ],
)
def test_it_reads_every_documented_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "mucha", "k", "-1", "1.2.3", "1x", "1kk", "1 k b", "1e3", "0x10", "1,5m", "1p"]
)
def test_it_refuses_anything_else_as_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_an_int_is_already_bytes_but_a_bool_or_a_negative_is_no_size() -> None:
    assert parse_size(4096) == 4096
    for value in (True, -1):
        with pytest.raises(ValueError):
            parse_size(value)


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0"), (1, "1"), (1536, "1536"), (KIB, "1k"), (MIB, "1m"), (1536 * MIB, "1536m")]
    + [(GIB, "1g"), (3 * 1024**4, "3t"), (MIB + 1, str(MIB + 1))],
)
def test_format_size_writes_the_shortest_exact_form(size: int, text: str) -> None:
    assert format_size(size) == text
    assert parse_size(text) == size


def test_format_size_is_what_the_kernel_reads_too() -> None:
    # The tmpfs size= handed to the kernel is format_size's text: the gateway's copy of the
    # kernel's grammar must read it as the same number of bytes.
    for size in (1, 4096, 64 * MIB, 1536 * MIB, 5 * GIB, 123457):
        assert policy.kernel_size(format_size(size)) == size


def test_the_students_grammar_is_not_the_deployers() -> None:
    # On purpose: what a student sends is read as the kernel would ("010k" is octal there).
    assert policy.kernel_size("010k") == 8 * KIB
    assert parse_size("010k") == 10 * KIB


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("90S", 90.0),
        ("0.5", 0.5),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("1d", 86400.0),
        (" 2 m ", 120.0),
    ],
)
def test_it_reads_every_documented_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "pronto", "m", "-5", "1.2.3", "10min", "1w", "5ms", "1h30m"])
def test_it_refuses_anything_else_as_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_env_size_reads_the_variable_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUELLE_TEST_SIZE", raising=False)
    assert env_size("MUELLE_TEST_SIZE", "64m") == 64 * MIB
    monkeypatch.setenv("MUELLE_TEST_SIZE", "1.5g")
    assert env_size("MUELLE_TEST_SIZE", "64m") == 1536 * MIB


@pytest.mark.parametrize(("raw", "why"), [("mucha", "a size like"), ("512k", "at least 1m")])
def test_env_size_names_the_variable_on_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, raw: str, why: str
) -> None:
    monkeypatch.setenv("MUELLE_TEST_SIZE", raw)
    with pytest.raises(ImproperlyConfigured, match="MUELLE_TEST_SIZE") as error:
        env_size("MUELLE_TEST_SIZE", "64m", minimum="1m")
    assert why in str(error.value)
    assert repr(raw) in str(error.value)


def test_env_duration_reads_the_variable_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUELLE_TEST_WAIT", raising=False)
    assert env_duration("MUELLE_TEST_WAIT", "15m") == 900.0
    assert env_duration("MUELLE_TEST_WAIT", 30) == 30.0
    monkeypatch.setenv("MUELLE_TEST_WAIT", "1.5h")
    assert env_duration("MUELLE_TEST_WAIT", "15m") == 5400.0
    whole = env_duration("MUELLE_TEST_WAIT", "15m", whole=True)
    assert whole == 5400
    assert type(whole) is int


@pytest.mark.parametrize(
    ("raw", "why"),
    [("pronto", "a duration like"), ("5", "at least 10 seconds"), ("10.5", "whole number")],
)
def test_env_duration_names_the_variable_on_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, raw: str, why: str
) -> None:
    monkeypatch.setenv("MUELLE_TEST_WAIT", raw)
    with pytest.raises(ImproperlyConfigured, match="MUELLE_TEST_WAIT") as error:
        env_duration("MUELLE_TEST_WAIT", "15m", minimum=10, whole=True)
    assert why in str(error.value)


def test_the_sandbox_gets_the_parsed_sizes(settings: Any) -> None:
    settings.SANDBOX_MEMORY = 1536 * MIB
    settings.SANDBOX_WORKDIR_SIZE = "1.5m"  # an override may still be text
    settings.SANDBOX_TMP_SIZE = 8 * MIB
    config = hardening.host_config()
    assert config["mem_limit"] == config["memswap_limit"] == 1536 * MIB
    assert "size=1536k," in config["tmpfs"][settings.SANDBOX_WORKDIR]
    assert "size=8m," in config["tmpfs"]["/tmp"]  # noqa: S108


def test_the_gateway_gets_the_parsed_sizes(settings: Any) -> None:
    settings.DOCKER_GATEWAY_CONTAINER_MEMORY = "64m"
    settings.DOCKER_GATEWAY_MAX_TOTAL_MEMORY = GIB
    settings.DOCKER_GATEWAY_BUILD_CONTEXT_MAX = "1.5m"
    settings.SANDBOX_LOG_MAX_SIZE = 512 * KIB
    config = GatewayConfig.from_settings()
    assert config.container_memory == 64 * MIB
    assert config.max_total_memory == GIB
    assert config.build_context_max == 1536 * KIB
    # Kept as text: refusals quote it to the student, in the engine's grammar too.
    assert config.log_max_size == "512k"
    assert policy.ram_in_bytes(config.log_max_size) == 512 * KIB


def test_a_gateway_config_built_by_hand_takes_its_defaults_from_the_settings(settings: Any) -> None:
    # Each default is written once (tutorial/settings.py): a test or bench config differs from
    # the deployment only where it says so.
    settings.DOCKER_GATEWAY_MAX_CONTAINERS = 5
    settings.DOCKER_GATEWAY_CAP_ALLOWLIST = ["chown", "KILL"]
    settings.DOCKER_GATEWAY_BUILD_MEMORY = "96m"
    config = GatewayConfig()
    assert config.max_containers == 5
    assert config.cap_allowlist == {"CHOWN", "KILL"}
    assert config.build_memory == 96 * MIB
    assert GatewayConfig(max_containers=2).max_containers == 2
    assert GatewayConfig().pull_allowlist == frozenset()  # by hand: pulls nothing unless given
    assert GatewayConfig.from_settings().pull_allowlist == set(
        settings.DOCKER_GATEWAY_PULL_ALLOWLIST
    )


def _manage(tmp_path: Any, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SQLITE_PATH=str(tmp_path / "db.sqlite3"), **variables)
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SANDBOX_MEMORY", "mucha"),
        ("SANDBOX_MEMORY", "1m"),  # under the engine's minimum
        ("SANDBOX_WORKDIR_SIZE", "0"),  # a tmpfs of size 0 has no limit at all
        ("DOCKER_GATEWAY_BUILD_CONTEXT_MAX", "32 megas"),
        ("SANDBOX_IDLE_TIMEOUT", "pronto"),
        ("HTTP_BODY_TIMEOUT", "-1"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(
    tmp_path: Any, name: str, raw: str
) -> None:
    result = _manage(tmp_path, "check", **{name: raw})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be" in result.stderr
    assert "no issues" not in result.stdout


def test_a_good_value_reaches_the_settings(tmp_path: Any) -> None:
    variables = {
        "SANDBOX_MEMORY": "1g",
        "SANDBOX_IDLE_TIMEOUT": "20m",
        "TERMINAL_MAX_FRAME": "32KiB",
    }
    assert "no issues" in _manage(tmp_path, "check", **variables).stdout
    show = "from django.conf import settings as s; "
    show += "print(s.SANDBOX_MEMORY, s.SANDBOX_IDLE_TIMEOUT, s.TERMINAL_MAX_FRAME)"
    result = _manage(tmp_path, "shell", "--no-imports", "-c", show, **variables)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(GIB), "1200", str(32 * KIB)]


def test_the_server_reads_the_same_grammar_and_the_same_setting(tmp_path: Any) -> None:
    # tutorial/server.py sizes the websocket frames before Django runs: it must take the
    # terminal's limit from the settings (one default, one grammar), not parse the variable again.
    show = "from tutorial.server import build_config; c = build_config([]); "
    show += "print(c.ws_max_size, c.header_timeout)"
    env = dict(
        os.environ,
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        TERMINAL_MAX_FRAME="32k",
        HTTP_HEADER_TIMEOUT="1m",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", show], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(32 * KIB), "60.0"]


def test_the_oom_notice_says_the_memory_as_the_deployer_wrote_it() -> None:
    from sandbox.terminal_notices import spoken_memory

    # Settings hold bytes now: 1g must still read "1 GB", not "1024 MB".
    assert spoken_memory(GIB) == "1 GB"
    assert spoken_memory(256 * MIB) == "256 MB"
    assert spoken_memory("1.5g") == "1536 MB"
    assert spoken_memory(300_000_000) == "286 MB"
