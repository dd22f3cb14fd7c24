"""Finding masks: folders, files, list files, zarr stores and per-class PNG layouts, in a stable
order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG

from ..errors import DatasetError, DuplicateWarning, warn_data
from .entries import (
    ARRAY_EXTS,
    LIST_EXTS,
    Entry,
    enter_list,
    file_version,
    is_url,
    is_zarr_dir,
    special_kind,
)
from .found import (
    check_single_layout,
    file_entries,
    perclass_entries,
    zarr_entries,
)
from .nrrd import with_data_files
from .traps import check_tree
from .walk import MASK_EXTS, hidden, log_hidden, unique_masks, walk_masks


def discover(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    glob: str | None = None,
    multilabel: bool = False,
    class_names: Sequence[str] | None = None,
) -> list[Entry]:
    """Resolve paths (folders, files, list files, zarr stores) into entries, in a stable order.

    Raises:
        DatasetError: nothing found, a glob matching nothing, or a folder mixing layouts.
    """
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not paths:
        raise DatasetError("no input paths given")
    found: list[Entry] = []
    links: set[str] = set()  # entries that are symlinks (a walk knows it from the listing)
    for p in paths:
        found += (
            _remote().discover_url(p, glob, multilabel, class_names)
            if is_url(p)
            else _discover_one(Path(p), glob, multilabel, class_names, links)
        )
    kept, duplicates = unique_masks([(e.path, e.key) for e in found], links)
    entries = [found[i] for i in kept]
    if duplicates:
        warn_data(
            f"{len(duplicates)} mask(s) given more than once are counted once, first: "
            f"{duplicates[0]} (a path listed twice or spelt two ways, a folder given twice or "
            "inside another, or a symlink to a listed file)",
            DuplicateWarning,
            stacklevel=2,
        )
    if not entries:
        where = ", ".join(map(str, paths))
        if glob:
            raise DatasetError(f"the glob {glob!r} matched no mask files under {where}")
        raise DatasetError(
            f"no mask files found under {where} (looked for {', '.join(MASK_EXTS)} "
            "and zarr stores); pass --glob to choose files"
        )
    return entries


def _discover_one(
    p: Path,
    glob: str | None,
    multilabel: bool,
    class_names: Sequence[str] | None,
    links: set[str],
    chain: tuple[tuple[str, str], ...] = (),
) -> list[Entry]:
    """The entries under one path; symlinked mask files are added to ``links``."""
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    if not p.is_dir() and not p.is_file():  # a FIFO would block the scan that reads it
        raise DatasetError(
            f"{p}: is {special_kind(p.stat().st_mode)}, not a regular file or a folder; pass "
            "the mask files themselves"
        )
    if is_zarr_dir(p):
        return zarr_entries(p, multilabel)
    if p.is_file():
        if p.suffix.lower() in LIST_EXTS:
            return _list_file_entries(p, multilabel, class_names, links, chain)
        if p.is_symlink():
            links.add(str(p))
        return [with_data_files(e, str(p.parent)) for e in file_entries(p, multilabel)]
    if glob:
        found = sorted(p.glob(glob), key=lambda f: f.parts)
        if not any(hidden(part) for part in Path(glob).parts):  # unless the glob names them
            kept = [f for f in found if not any(hidden(x) for x in f.relative_to(p).parts)]
            log_hidden(p, len(found) - len(kept))
            found = kept
        items, stats = _globbed(found, links)
    else:
        items, stats, skipped = walk_masks(os.path.abspath(p), links)
        log_hidden(p, skipped)
    names = [f for f, _ in items]
    if glob and not names and not glob.startswith("**"):
        _check_glob_depth(p, glob)
    check_tree(p, names, multilabel=multilabel, class_names=class_names)
    if multilabel and items and all(f.lower().endswith(".png") for f in names):
        per_class = perclass_entries([Path(f) for f in names], class_names)
        if per_class is not None:
            return per_class
    check_single_layout(p, names, [store for _, store in items], kinds=not glob)
    out: list[Entry] = []
    for f, store in items:
        st = stats.get(f)
        if store:
            out.extend(zarr_entries(f, multilabel))
        elif st is not None and not f.endswith(_ARRAY_SUFFIXES):
            out.append(Entry("image", f, 1, None, (), ((f, st[0], st[1]),)))
        else:
            out.extend(file_entries(f, multilabel))
    # detached NRRD data, inside p only
    return [with_data_files(e, str(p)) if e.path[-5:].lower() in _NRRD else e for e in out]


def _globbed(
    found: Sequence[Path], links: set[str]
) -> tuple[list[tuple[str, bool]], dict[str, tuple[int, str]]]:
    """The files and zarr stores a glob matched, with each file's size and version: one
    ``lstat`` per match (a ``stat`` more for a symlink), as the folder walk makes one ``stat``."""
    items: list[tuple[str, bool]] = []
    stats: dict[str, tuple[int, str]] = {}
    for f in found:
        try:
            st = f.lstat()
            if S_ISLNK(st.st_mode):
                links.add(str(f))
                st = f.stat()
        except OSError:
            continue  # gone, or a broken link: not a mask a glob found
        if S_ISDIR(st.st_mode):
            if is_zarr_dir(f):
                items.append((str(f), True))
        elif S_ISREG(st.st_mode):
            items.append((str(f), False))
            stats[str(f)] = (st.st_size, file_version(st))
        else:  # reading a FIFO would wait forever
            raise DatasetError(
                f"{f}: is {special_kind(st.st_mode)}, not a regular file; remove it, or pass a "
                "--glob that does not match it"
            )
    return items, stats


_ARRAY_SUFFIXES = ARRAY_EXTS + tuple(e.upper() for e in ARRAY_EXTS)
_NRRD = (".nrrd", ".nhdr")


def _check_glob_depth(root: Path, glob: str) -> None:
    """A glob without ``**/`` that matches nothing at its own depth, while deeper files match."""
    deeper = [f for f, _ in zip(root.glob(f"**/{glob}"), range(1000), strict=False) if f.is_file()]
    if deeper:
        rel = deeper[0].relative_to(root).as_posix()
        raise DatasetError(
            f"the glob {glob!r} matched nothing directly under {root}, but "
            f"{len(deeper)}{'+' if len(deeper) == 1000 else ''} file(s) deeper do (first: {rel}); "
            f"a glob without '**/' does not look into subfolders: pass --glob '**/{glob}'"
        )


def _list_file_entries(
    p: Path,
    multilabel: bool,
    class_names: Sequence[str] | None,
    links: set[str],
    chain: tuple[tuple[str, str], ...] = (),
) -> list[Entry]:
    chain = enter_list(chain, os.path.realpath(p), str(p))  # a cycle ends here, named
    base = p.parent
    out: list[Entry] = []
    missing = []
    for raw in p.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            out.extend(_remote().discover_url(line, None, multilabel, class_names, chain))
            continue
        f = Path(line) if Path(line).is_absolute() else base / line
        if not f.exists():
            missing.append(line)
            continue
        out.extend(_discover_one(f, None, multilabel, class_names, links, chain))
    if missing:
        raise DatasetError(
            f"{p} lists {len(missing)} path(s) that do not exist, first: {missing[0]!r} "
            f"(paths are relative to {base})"
        )
    return out


def _remote():
    """The URL twin of this module (imported on the first URL only: fsspec is optional)."""
    from . import remote

    return remote
