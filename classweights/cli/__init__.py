"""The ``classweights`` command line: each command parses, calls the library, renders.

Data goes to stdout; progress and diagnostics to stderr. Exit codes: 0 success, 1 failure
during work, 2 bad usage or bad input. ``CLASSWEIGHTS_DEBUG=1`` shows tracebacks.
One module per group of commands; `options.py` holds the shared flags.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import warnings
from importlib import import_module
from typing import Any

import click

from .. import __version__
from ..text import visible

# command -> (module in this package, attribute, the command's short help). Commands are
# imported when run, so `--version` and `--help` import neither numpy nor the library
# (tests/test_startup.py checks that the short help here is the command's own).
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "cache": ("cache", "cache", "Inspect and clean the cache of statistics and weights."),
    "compare": ("stats", "compare", "Every weight method side by side, from one scan."),
    "compare-splits": (
        "splits",
        "compare_splits_command",
        "Class shares of two splits side by side (train vs val drift).",
    ),
    "compute": (
        "stats",
        "compute",
        "Class weights with one method, shown with the class statistics.",
    ),
    "explain": (
        "provenance",
        "explain",
        "How a weight file (or every weight file of a cache KEY) was made.",
    ),
    "match": (
        "provenance",
        "match",
        "Which method and convention produced published class weights, on this dataset.",
    ),
    "report": (
        "report",
        "report",
        "A dataset report as one self-contained HTML file (opens offline, fetches nothing).",
    ),
    "sampler": (
        "sampler",
        "sampler",
        "Per-image sampling weights, aligned with the scan's (sorted) file order.",
    ),
    "show": (
        "cache",
        "show_file",
        "Show a saved weight file (.pth, .npy, .json, .yaml): method, options and weights.",
    ),
    "stats": ("stats", "stats", "Per-class pixels, share, and images containing each class."),
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use (startup stays at Python + click)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in _COMMANDS:
            module, attr, _ = _COMMANDS[name]
            try:
                command = getattr(import_module(f".{module}", __name__), attr)
            except ImportError:  # pragma: no cover - an optional command's module is missing
                return None
            _examples_last(command)
            self.add_command(command, name)
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                short = self.commands[name].get_short_help_str(limit)
            else:
                # click's own shortening, on a bare command (its public helper is deprecated)
                short = click.Command(name, help=_COMMANDS[name][2]).get_short_help_str(limit)
            rows.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
    during work, 2 bad usage or input. Shell completion:
    eval "$(_CLASSWEIGHTS_COMPLETE=bash_source classweights)"
    (zsh_source, fish_source for zsh and fish).

    \b
    Examples:
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --export pytorch
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --format markdown
    """
    from ..report import set_color
    from .app import log_to_stderr

    level = logging.WARNING - 10 * min(verbose, 2)
    log_to_stderr(logging.WARNING)  # other libraries (zarr's codec registry...) stay at WARNING
    logging.getLogger("classweights").setLevel(level)  # -v / -vv: our own diagnostics only
    warnings.showwarning = _show_warning
    set_color(color)


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """Our warnings as one plain line on stderr (no source location); those of the libraries
    underneath (e.g. Pillow on a damaged TIFF tag) only with -v."""
    log = logging.getLogger("classweights")
    ours = getattr(category, "__module__", "").startswith("classweights") or _in_package(filename)
    if not log.isEnabledFor(logging.WARNING if ours else logging.INFO):
        return
    click.echo(f"warning: {visible(message)}", err=True)


def _in_package(filename: str) -> bool:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.abspath(filename).startswith(here + os.sep)


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


_examples_last(cli)


def _hold_closed_fds() -> None:
    """Started with stdout or stderr closed (``>&-``): put ``/dev/null`` on that descriptor,
    so no file the scan opens (a mask, a cache entry) gets number 1 or 2 and receives what a
    library or worker prints. ``sys.stdout`` stays None: writing a result to it is still the
    one error line of a closed stdout."""
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:
            held = os.open(os.devnull, os.O_WRONLY)
            if held != fd:  # a lower descriptor was free too: move it into place
                os.dup2(held, fd)
                os.close(held)


def main() -> None:
    """Console-script entry point: every error is one line on stderr (cli/errors.py codes)."""
    from .errors import exit_code, message

    _hold_closed_fds()
    try:
        code = cli.main(prog_name="classweights", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # `classweights` alone: its help
        click.echo(e.ctx.get_help(), color=e.ctx.color)
        sys.exit(0)
    except (click.ClickException, click.Abort) as e:
        click.echo(message(e), err=True)
        sys.exit(exit_code(e))
    sys.exit(code if isinstance(code, int) else 0)
