"""The CLI's one error boundary: exception classes mapped to exit codes, as ``--help`` says.

0 success, 1 failure during work (a cache lock held too long, a corrupt entry found while
working, a write that failed: disk full, I/O error, standard output closed or left by its
reader; any unexpected error), 2 bad usage or bad input (one line naming the file and the fix),
130 interrupted. The first matching row of :data:`EXIT_CODES` wins.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import ClassWeightsError, WriteError, missing_dependency
from ..text import visible

FAILURE, BAD_INPUT, INTERRUPTED = 1, 2, 130


def exit_codes() -> tuple[tuple[type[BaseException], int], ...]:
    """(exception class, exit code) rows, most specific first."""
    from ..cache.store import LockTimeout

    return (
        (LockTimeout, FAILURE),  # a ClassWeightsError, but nothing the user typed was wrong
        (WriteError, FAILURE),  # disk full, I/O error, stdout closed: the same
        (click.UsageError, BAD_INPUT),
        (ClassWeightsError, BAD_INPUT),
        (KeyboardInterrupt, INTERRUPTED),
        (click.Abort, INTERRUPTED),
        (BaseException, FAILURE),
    )


def exit_code(error: BaseException) -> int:
    """The exit code of ``error``.

    >>> from classweights.errors import ConfigError
    >>> exit_code(ConfigError("num_classes=0")), exit_code(OSError("disk full"))
    (2, 1)
    """
    if isinstance(error, click.ClickException) and not isinstance(error, click.UsageError):
        return error.exit_code
    error = missing_dependency(error) or error  # a missing extra: bad setup, one line
    return next(code for cls, code in exit_codes() if isinstance(error, cls))


def message(error: BaseException) -> str:
    """The one line printed on stderr for ``error``."""
    error = missing_dependency(error) or error  # torch & co. missing: name the extra
    if isinstance(error, click.UsageError):
        where = error.ctx.command_path if error.ctx is not None else "classweights"
        return f"error: {visible(error.format_message())} (see '{where} --help')"
    if isinstance(error, click.ClickException):
        return f"error: {visible(error.format_message())}"
    if isinstance(error, (KeyboardInterrupt, click.Abort)):
        return "interrupted" if isinstance(error, KeyboardInterrupt) else "aborted"
    if isinstance(error, ClassWeightsError):
        return f"error: {visible(as_flags(str(error), getattr(error, 'param', None)))}"
    why = f"{type(error).__name__}: {visible(error)}"
    return f"error: {why} (set CLASSWEIGHTS_DEBUG=1 for the traceback)"


def as_flags(text: str, param: str | None) -> str:
    """A library message about ``param=`` in the command line's words (``--param``): the one
    place where Python argument names become flags.

    >>> as_flags("workers=0 is not valid: expected an int >= 1", "workers")
    '--workers 0 is not valid: expected an int >= 1'
    """
    if param and text.startswith(f"{param}="):
        return f"--{param.replace('_', '-')} {text[len(param) + 1 :].lstrip()}"
    return text


def handle_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command; map what it raises to one line on stderr and :func:`exit_code`."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: reported by `main` (or click's standalone mode)
        except BrokenPipeError:  # `classweights ... | head`: the reader left; say nothing
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(FAILURE)
        except (Exception, KeyboardInterrupt) as e:
            if os.environ.get("CLASSWEIGHTS_DEBUG") and not isinstance(e, KeyboardInterrupt):
                raise
            click.echo(message(e), err=True)
            sys.exit(exit_code(e))

    return wrapper
