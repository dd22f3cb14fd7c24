"""The ``classweights`` command line: each command parses, calls the library, renders.

Data goes to stdout; progress and diagnostics to stderr. Exit codes: 0 success, 1 failure
during work, 2 bad usage or bad input. ``CLASSWEIGHTS_DEBUG=1`` shows tracebacks.
One module per group of commands; `options.py` holds the shared flags.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

import click

from .. import __version__
from .cache import cache, show_file
from .sampler import sampler
from .stats import compare, compute, stats


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="classweights")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Exact class statistics, class weights and losses for segmentation datasets."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)
    warnings.showwarning = _show_warning


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Library warnings as one plain line on stderr (no source location)."""
    if not logging.getLogger("classweights").isEnabledFor(logging.WARNING):
        return
    click.echo(f"warning: {message}", err=True)


for _command in (stats, compute, compare, sampler, cache, show_file):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="classweights")
