"""The ``classweights`` command line: each command parses, calls the library, renders.

Data goes to stdout; progress and diagnostics to stderr. Exit codes: 0 success, 1 failure
during work, 2 bad usage or bad input. ``CLASSWEIGHTS_DEBUG=1`` shows tracebacks.
One module per group of commands; `options.py` holds the shared flags.
"""

from __future__ import annotations

import inspect
import logging
import sys
import warnings
from typing import Any

import click

from .. import __version__
from ..text import visible
from .cache import cache, show_file
from .options import log_to_stderr
from .report import report
from .sampler import sampler
from .splits import compare_splits_command
from .stats import compare, compute, stats


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="classweights")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
@click.option(
    "--color/--no-color",
    default=None,
    help="Force colours on or off (default: only on a terminal, never with NO_COLOR set).",
)
def cli(verbose: int, color: bool | None) -> None:
    """Exact class statistics, class weights and losses for segmentation datasets.

    Data goes to stdout, progress and diagnostics to stderr. Exit codes: 0 success, 1 failure
    during work, 2 bad usage or input. Shell completion: eval "$(_CLASSWEIGHTS_COMPLETE=bash_source classweights)"
    (zsh_source, fish_source for zsh and fish).

    \b
    Examples:
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --export pytorch
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --format markdown
    """
    from ..report import set_color

    level = logging.WARNING - 10 * min(verbose, 2)
    log_to_stderr(level)
    warnings.showwarning = _show_warning
    set_color(color)


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """Library warnings as one plain line on stderr (no source location)."""
    if not logging.getLogger("classweights").isEnabledFor(logging.WARNING):
        return
    click.echo(f"warning: {visible(message)}", err=True)


def _examples_last(command: click.Command) -> None:
    """Move a docstring's ``Examples:`` block into the epilog, so ``--help`` ends with it."""
    lines = inspect.cleandoc(command.help or "").splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip() == "Examples:"), None)
    if at is not None and not command.epilog:
        cut = at - 1 if at > 0 and lines[at - 1].strip() == "\b" else at
        examples = [f"  {line.strip()}" for line in lines[at + 1 :] if line.strip()]
        command.help = "\n".join(lines[:cut]).rstrip()
        command.epilog = "\b\nExamples:\n" + "\n".join(examples)
    for sub in getattr(command, "commands", {}).values():
        _examples_last(sub)


_COMMANDS: list[click.Command] = [stats, compute, compare, sampler, cache, show_file]
_COMMANDS += [compare_splits_command, report]
try:  # `explain` / `match` (provenance), registered once that module imports cleanly
    from .provenance import explain, match

    _COMMANDS += [explain, match]
except ImportError:  # pragma: no cover - another engineer's module not there yet
    pass

for _command in _COMMANDS:
    cli.add_command(_command)
_examples_last(cli)


def main() -> None:
    """Console-script entry point: every error is one line on stderr (cli/errors.py codes)."""
    from .errors import exit_code, message

    try:
        code = cli.main(prog_name="classweights", standalone_mode=False)
    except (click.ClickException, click.Abort) as e:
        click.echo(message(e), err=True)
        sys.exit(exit_code(e))
    sys.exit(code if isinstance(code, int) else 0)
