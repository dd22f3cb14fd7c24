"""The CLI's one error boundary (classweights/cli/errors.py): exit codes as `--help` says."""

from __future__ import annotations

import click
import filelock
from click.testing import CliRunner

from classweights.cache.store import Store
from classweights.cli.errors import handle_errors


def _locking_command(root):
    @click.command()
    @handle_errors
    def take_lock() -> None:
        with Store(root).lock("k" * 24, timeout=0.1):
            pass

    return take_lock


def test_lock_timeout_is_a_failure_during_work_exit_1(tmp_path):
    """A held cache lock is nothing the user typed wrong: exit 1, one line, no traceback."""
    held = filelock.FileLock(str(tmp_path / "locks" / ("k" * 24 + ".lock")))
    (tmp_path / "locks").mkdir()
    with held:
        result = CliRunner().invoke(_locking_command(tmp_path), [])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: waited 0 s for the cache lock")
    assert "Traceback" not in result.output


def test_bad_input_exits_2_and_names_the_fix(tmp_path):
    from classweights.cli import cli

    result = CliRunner().invoke(cli, ["stats", str(tmp_path / "missing"), "--num-classes", "3"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "Traceback" not in result.output
