"""The app object every dataset command receives: output format, chatter, cache, cluster.

``@command(formats=...)`` adds the flags of a run (``--format``, ``-q``/``-v``, the cache
flags, ``--scheduler``/``--dask-local``) to a command and passes one :class:`App` built from
them, as hatch passes its application object; the command then reads only its own flags.
The app runs the pipeline with a progress bar and a Dask client where asked, and writes
diagnostics to stderr (never stdout).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ..text import visible, visible_lines
from .errors import handle_errors

TEXT_FORMATS = ("table", "json", "csv")
FORMATS = ("table", "json", "csv", "markdown")


class FormatChoice(click.Choice):
    """``--format``: one option type, each command with its own choices."""

    def __init__(self, formats: tuple[str, ...]) -> None:
        super().__init__(list(formats))


@dataclass
class App:
    """What a command needs besides its own flags."""

    fmt: str
    quiet: bool
    verbose: int
    cache: Any  # CacheOptions
    scheduler: str | None = None
    dask_local: int | None = None

    # ---- running the pipeline ---------------------------------------------------------------
    def statistics(self, source: Any) -> tuple[Any, Any]:
        """The statistics of a `MaskSource` through the cache (with a progress bar), and the
        `CacheInfo` saying where they came from."""
        from ..pipeline import statistics
        from ..report import progress_bar, progress_enabled

        with self.client() as client, progress_bar(progress_enabled(self.quiet)) as progress:
            return statistics(source, self.cache, client=client, progress=progress)

    def client(self) -> Any:
        """A context manager yielding a Dask client for --scheduler/--dask-local, else None."""
        if self.scheduler is None and self.dask_local is None:
            return contextlib.nullcontext(None)
        from ..distributed import open_client

        return open_client(scheduler=self.scheduler, local_workers=self.dask_local)

    # ---- talking ----------------------------------------------------------------------------
    def note(self, message: str) -> None:
        """One diagnostic line on stderr (never stdout), silenced by --quiet."""
        note(message, self.quiet)

    def emit(self, data: dict[str, Any], title: str, extra: tuple[str, ...] = ()) -> None:
        """The statistics (and weights) on stdout in the format; skipped files on stderr."""
        from ..report.render import render

        render(data, self.fmt, kind="stats", title=title, extra=extra)
        if self.fmt in ("table", "markdown"):
            for s in data["dataset"]["skipped"][:10]:
                self.note(f"skipped: {s['error']}")  # one line each, control characters shown

    def diagnosis(self, diag: dict[str, Any]) -> None:
        from ..report import diagnosis_lines, make_console

        for line in diagnosis_lines(diag):
            make_console(quiet=self.quiet).print(visible(line), markup=False)


def command(
    formats: tuple[str, ...] = TEXT_FORMATS, *, cache: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the run flags and an ``app`` first argument (errors mapped to exit codes).

    ``formats``: its ``--format`` choices (``()``: no ``--format``, the command writes a file).
    """

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def run(**kw: Any) -> Any:
            from ..requests import CacheOptions

            set_verbosity(kw)
            app = App(
                fmt=kw.pop("fmt", "table"),
                quiet=kw.pop("quiet"),
                verbose=kw.pop("verbose"),
                cache=CacheOptions(
                    folder=kw.pop("cache_dir"),
                    enabled=not kw.pop("no_cache"),
                    verify=kw.pop("verify"),
                    refresh=kw.pop("refresh"),
                )
                if cache
                else None,
                scheduler=kw.pop("scheduler", None),
                dask_local=kw.pop("dask_local", None),
            )
            return f(app, **kw)

        opts = []
        if cache:
            opts += [
                click.option(
                    "--cache-dir",
                    type=click.Path(file_okay=False),
                    help="Cache folder (default: $CLASSWEIGHTS_CACHE or the user cache dir).",
                ),
                click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
                click.option(
                    "--verify",
                    is_flag=True,
                    help="Hash file contents into the cache key (catches same-size, same-time "
                    "rewrites).",
                ),
                click.option(
                    "--refresh", is_flag=True, help="Rescan even if the cache has the result."
                ),
                click.option(
                    "--scheduler",
                    metavar="ADDRESS",
                    help="Run the scan on a Dask cluster, e.g. tcp://host:8786.",
                ),
                click.option(
                    "--dask-local",
                    type=click.IntRange(min=1),
                    metavar="N",
                    help="Run the scan on a local Dask cluster of N worker processes.",
                ),
            ]
        if formats:
            opts.append(
                click.option(
                    "--format",
                    "fmt",
                    type=FormatChoice(formats),
                    default="table",
                    show_default=True,
                    help="Output on stdout"
                    + (
                        " (markdown: a GitHub table for READMEs and pull requests)."
                        if "markdown" in formats
                        else "."
                    ),
                )
            )
        opts += [
            click.option("-q", "--quiet", is_flag=True, help="No progress bar or diagnostics."),
            click.option(
                "-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug)."
            ),
        ]
        wrapped = handle_errors(run)
        for opt in reversed(opts):
            wrapped = opt(wrapped)
        return wrapped

    return deco


def ignored_flags(*names: str, why: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Flags a command accepted but never read: hidden, kept for a release, and warned about
    when given (``why``: what to do instead)."""

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def run(app: App, **kw: Any) -> Any:
            for name in names:
                if kw.pop(name, None) not in (None, False, 0):
                    flag = "--" + name.replace("_", "-")
                    click.echo(
                        f"warning: {flag} does nothing here and will be removed; {why}", err=True
                    )
            return f(app, **kw)

        for name in reversed(names):
            run = click.option("--" + name.replace("_", "-"), name, hidden=True)(run)
        return run

    return deco


# ---- chatter --------------------------------------------------------------------------------
def note(message: str, quiet: bool) -> None:
    """One diagnostic line on stderr (never stdout), silenced by --quiet."""
    if not quiet:
        click.echo(visible(message), err=True)


def set_verbosity(kw: dict[str, Any]) -> None:
    """--quiet silences warnings; -v / -vv (on the command or the group) show info / debug.
    The line saying what a layout set is shown unless --quiet."""
    log = logging.getLogger("classweights")
    if kw.get("quiet"):
        log.setLevel(logging.ERROR)
    elif kw.get("verbose"):
        log.setLevel(logging.WARNING - 10 * min(kw["verbose"], 2))
        if not logging.getLogger().handlers:
            log_to_stderr()
    if (kw.get("layout") or kw.get("split_file")) and not kw.get("quiet"):
        logging.getLogger("classweights.layouts").setLevel(logging.INFO)


class VisibleFormatter(logging.Formatter):
    """Log lines with the control characters of any data in them shown, never acted on."""

    def format(self, record: logging.LogRecord) -> str:
        return visible_lines(super().format(record))


def log_to_stderr(level: int | None = None) -> None:
    """Our own log records on stderr with :class:`VisibleFormatter`.

    Only the ``classweights`` logger gets the handler: records of the libraries underneath
    (Pillow's TIFF parser, zarr's codec registry, ...) are theirs to show, not a CLI line.
    Called again (one process running several commands), it replaces its earlier handler.
    """
    log = logging.getLogger("classweights")
    for old in [h for h in log.handlers if getattr(h, "classweights_cli", False)]:
        log.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.classweights_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(VisibleFormatter("%(levelname)s: %(message)s"))
    log.addHandler(handler)
    if level is not None:
        log.setLevel(level)
