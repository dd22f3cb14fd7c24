"""The terminal: colour on or off, the console rich prints with, the progress bar."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text

from ..text import visible

_COLOR: bool | None = None  # --color / --no-color; None: rich decides (NO_COLOR, isatty)


def set_color(color: bool | None) -> None:
    """Force colours on (``True``) or off (``False``), or let the terminal decide (``None``)."""
    global _COLOR
    _COLOR = color


def make_console(stderr: bool = False, quiet: bool = False) -> Console:
    """A console that styles only a terminal: no ANSI codes in a pipe, none under ``NO_COLOR``
    (or ``--no-color``), colours forced by ``--color``."""
    if not stderr and not quiet and sys.stdout is None:  # `>&-`: rich would print nowhere
        from ..atomic import stdout_closed
        from ..errors import WriteError

        raise WriteError(stdout_closed())
    kw: dict[str, Any] = {}
    if _COLOR is False or (_COLOR is None and os.environ.get("NO_COLOR", "") != ""):
        kw["color_system"] = None
    elif _COLOR is True:
        kw["force_terminal"] = True
    return Console(stderr=stderr, quiet=quiet, highlight=False, soft_wrap=False, **kw)


@contextmanager
def progress_bar(
    enabled: bool, description: str = "scanning"
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr (images/s, ETA); yields the callback, or None if disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    class _Rate(TextColumn):
        def render(self, task):  # type: ignore[override]
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} img/s" if speed else "")

    from rich.markup import escape

    description = escape(visible(description))  # the column below formats it as markup
    console = make_console(stderr=True)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(""),
        TextColumn("ETA"),  # the remaining time, labelled (a bare 0:00:12 reads as elapsed)
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total or None)

        yield update


def progress_enabled(quiet: bool) -> bool:
    """A progress bar only for a person watching: stderr is a terminal, not ``--quiet``, not
    in CI (``$CI`` set), not a dumb terminal."""
    if quiet or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        return False
    return sys.stderr.isatty()
