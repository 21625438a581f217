"""A person's mistake or a stopped p2c gets one line that says what to do, and the same exit codes everywhere."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from p2c.cli import main
from p2c.errors import EXIT_CONFIGURATION, EXIT_UNREACHABLE
from p2c.process import free_port

NOT_RUNNING = ["status", "status --json", "dlq list", "dlq list --json", "dlq retry", "trace accounts ACC-01000-X"]


@pytest.fixture(autouse=True)
def no_p2c_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("P2C_")]:
        monkeypatch.delenv(name)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", NOT_RUNNING)
def test_with_nothing_running_a_command_says_so_in_one_line_within_3_s(command: str) -> None:
    started = time.monotonic()
    code, output = run(*command.split(), "--bootstrap-servers", f"127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 3
    assert code == EXIT_UNREACHABLE
    assert output.strip().count("\n") == 0, output
    assert "p2c is not running" in output and "p2c up" in output


@pytest.mark.parametrize("command", ["status", "dlq list", "init", "registry serve"])
def test_a_missing_config_file_is_named_without_a_traceback(command: str, tmp_path: Path) -> None:
    code, output = run(*command.split(), "--config", str(tmp_path / "nope.toml"))
    assert code == EXIT_CONFIGURATION
    assert "nope.toml not found" in output and "Traceback" not in output


def test_invalid_toml_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "p2c.toml"
    bad.write_text("[kafka\n")
    code, output = run("status", "--config", str(bad))
    assert code == EXIT_CONFIGURATION
    assert "not valid TOML" in output and "Traceback" not in output


def test_a_misspelt_section_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "p2c.toml"
    bad.write_text('[kafak]\nbootstrap_servers = "x:1"\n[sink.erpp]\n')
    code, output = run("dlq", "list", "--config", str(bad))
    assert code == EXIT_CONFIGURATION
    assert "[kafak]" in output and "[sink.erpp]" in output


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2C_SESSION_TIMEOUT_MS", "six seconds")
    code, output = run("status")
    assert code == EXIT_CONFIGURATION
    assert "P2C_SESSION_TIMEOUT_MS='six seconds'" in output and "Traceback" not in output


def test_init_says_how_long_it_waited() -> None:
    code, output = run("init", "--bootstrap-servers", f"127.0.0.1:{free_port()}", "--wait", "3")
    assert code == EXIT_UNREACHABLE
    assert "did not answer within 3 s" in output and "Traceback" not in output
