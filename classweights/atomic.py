"""Writing an output file: the one helper every writer uses (exports, ``.pth`` records, plots,
the HTML report, sampling weights, saved statistics, the cache's files).

What ``path`` is decides how it is written:

- a regular file, or a new name: atomically -- a temporary file in the same folder, flushed,
  then renamed into place, so a crash or Ctrl-C leaves the old file (or none), never half a
  file. A new file gets ordinary permissions (``0o666`` less the umask), not ``mkstemp``'s
  private ``0o600``; a replaced file keeps its permissions;
- a symlink: followed; its *target* is replaced atomically (the temporary file is made in
  the target's folder), so the link stays a link;
- a FIFO or a character device (``/dev/stdout``, a named pipe): written as a stream, with no
  temporary file and no rename (the node is never replaced by a regular file);
- ``-``: standard output (text as it is; binary data only when stdout is not a terminal);
- a folder, a socket or a block device: refused (:class:`~classweights.errors.OutputError`).

An operating-system error is one :class:`~classweights.errors.OutputError` (a path that
cannot be written: permission, read-only file system, not a folder) or
:class:`~classweights.errors.WriteError` (a write that failed: no space left, I/O error),
both naming the path and the error; both are ``OSError`` subclasses too. A reader that closed
standard output early is a :class:`BrokenPipeError`, left to the caller (the CLI exits
quietly, as ``cat`` does).
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .errors import OutputError, WriteError

#: errors that say the path cannot be written (exit 2); any other is a failed write (exit 1)
_BAD_PATH = {
    errno.EEXIST,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENAMETOOLONG,
    errno.ELOOP,
    errno.ENOENT,
}
STDOUT = "-"


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[Any]], Any], mode: str = "wb"
) -> Path:
    """Write ``path`` with ``write(fh)`` as the module docstring says; returns the path given.

    ``mode`` is ``"wb"`` (``fh`` takes bytes) or ``"w"`` (``fh`` takes text, UTF-8).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda fh: fh.write("hi"), mode="w").read_text()
    'hi'
    """
    if os.fspath(path) == STDOUT:
        _to_stdout(write, mode)
        return Path(STDOUT)
    path = Path(path)
    try:
        st: os.stat_result | None = os.stat(path)  # follows a link to its target
    except FileNotFoundError:
        st = None  # a new file, or a link to one not made yet
    except OSError as e:
        raise _failed(path, e) from None
    if st is not None:
        kind = _special_kind(st.st_mode)
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            _to_stream(path, write, mode, kind)
            return path
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{path} is a folder; pass a file name to write to")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{path} is {kind}, not a file; pass a file name to write to")
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    try:
        _replace(target, write, mode, None if st is None else stat.S_IMODE(st.st_mode))
    except OSError as e:
        if isinstance(e, (OutputError, WriteError)):
            raise
        raise _failed(path, e) from None
    return path


def _replace(target: Path, write: Callable[[IO[Any]], Any], mode: str, keep: int | None) -> None:
    """Temporary file beside ``target``, filled, flushed, synced, renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **_text(mode)) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if keep is None:
            umask = os.umask(0)
            os.umask(umask)
            keep = 0o666 & ~umask
        os.chmod(tmp, keep)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rendered(write: Callable[[IO[Any]], Any], mode: str) -> bytes:
    """What ``write`` writes, in memory: a stream never receives half an output when the
    writer fails, and writers that seek (zip-based ``torch.save``) need no seekable stream."""
    if "b" in mode:
        buf = io.BytesIO()
        write(buf)
        return buf.getvalue()
    text = io.StringIO()
    write(text)
    return text.getvalue().encode("utf-8")


def _to_stream(path: Path, write: Callable[[IO[Any]], Any], mode: str, kind: str) -> None:
    data = _rendered(write, mode)
    try:
        with open(path, "wb") as fh:  # a FIFO blocks here until a reader opens it, as `>` does
            fh.write(data)
    except OSError as e:
        raise _failed(path, e, f" ({kind})", stream=True) from None


def _to_stdout(write: Callable[[IO[Any]], Any], mode: str) -> None:
    out = sys.stdout
    if out is None:
        raise WriteError(stdout_closed())
    binary = "b" in mode
    if binary and _isatty(out):
        raise OutputError(
            "refusing to write binary data to a terminal; redirect standard output "
            "(> FILE or | program), or pass -o FILE"
        )
    if binary:
        data = _rendered(write, mode)
    else:
        text = io.StringIO()
        write(text)
    try:
        if binary:
            buffer = getattr(out, "buffer", None)
            if buffer is None:
                raise OutputError("this standard output takes text only; pass -o FILE")
            out.flush()
            buffer.write(data)
            buffer.flush()
        else:
            out.write(text.getvalue())
            out.flush()
    except BrokenPipeError:
        raise  # the reader left: the caller decides (the CLI exits quietly)
    except OutputError:
        raise
    except OSError as e:
        raise _failed(Path("standard output"), e, stream=True) from None
    except ValueError:  # "I/O operation on closed file"
        raise WriteError(stdout_closed()) from None


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it: the one way data reaches stdout (a
    closed stdout is a :class:`~classweights.errors.WriteError`, never silence)."""
    _to_stdout(lambda fh: fh.write(text), "w")


def stdout_closed() -> str:
    """The one line for a standard output that is closed (``>&-``)."""
    return (
        "cannot write to standard output: it is closed; run with stdout open "
        "(e.g. > FILE), or pass -o FILE where the command has one"
    )


def _isatty(out: Any) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _failed(path: Path, e: OSError, kind: str = "", stream: bool = False) -> OSError:
    """``e`` as one line naming ``path``: OutputError for a path that cannot be written,
    WriteError for a write that failed."""
    why = e.strerror or str(e)
    if e.errno in _BAD_PATH:
        err: OSError = OutputError(f"cannot write {path}{kind}: {why}; pass -o a writable path")
    else:
        left = "" if stream else " (the old file, if any, is left as it was)"
        err = WriteError(f"writing {path}{kind} failed: {why}{left}")
    err.errno = e.errno
    return err


def _special_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "a file"


def _text(mode: str) -> dict[str, Any]:
    return {} if "b" in mode else {"encoding": "utf-8"}
